"""A normalised archive described as segments: new header bytes and ranges of the original.

Planning never writes. `Plan.same_as` tells, without a copy, whether the output would equal the
input, so an already normalised archive is left alone and `--check` is exact. `Plan.write`
streams the output with bounded memory; compressed data is copied, and only an entry whose
content must change is recompressed (see `deflate`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, Union

CHUNK = 1 << 20
# The one setting every recompressed entry gets, so its bytes depend only on the content and
# the zlib in use: level 9, raw deflate (window bits -15), memLevel 8, the default strategy.
# (zlib-ng, Fedora's zlib since 40, deflates to other bytes: build both images with one kind.)
LEVEL, WBITS, MEM_LEVEL = 9, -15, 8


class Unsupported(Exception):
    """The input is not (or not safely) the format the planner handles; it stays untouched."""


class NotThisFormat(Unsupported):
    """Not this format at all (no end record, no magic): for a file found by its content
    rather than its name, that is no finding, only a file that looked like one."""


class Changed(OSError):
    """The original changed between planning and writing."""


class Copy(NamedTuple):  # a tuple, not a dataclass: a zip plan makes one per entry
    """`length` bytes of the original, from `offset`."""

    offset: int
    length: int


class Inflated(NamedTuple):
    """An entry's content, decompressed (raw deflate when `deflated`) with `patches` applied.

    Used for the few entries whose content must change (a pyc's source mtime). A deflated
    entry stays deflated (`recompress`): its output is the patched content through `deflate`.
    """

    offset: int
    compressed_size: int
    length: int
    deflated: bool
    patches: tuple[tuple[int, bytes], ...]
    recompress: bool = False

    def output(self, src: BinaryIO) -> Iterator[bytes]:
        """What goes into the archive: the patched content, deflated again if it was."""
        return deflate(self.chunks(src)) if self.recompress else self.chunks(src)

    def chunks(self, src: BinaryIO) -> Iterator[bytes]:
        try:
            yield from self._chunks(src)
        except Unsupported as exc:  # it was checked while planning, so it changed since
            raise Changed(f"entry content changed: {exc}") from None

    def _chunks(self, src: BinaryIO) -> Iterator[bytes]:
        done = 0
        for chunk in inflate(src, self.offset, self.compressed_size, self.deflated):
            end = done + len(chunk)
            for at, data in self.patches:
                if at < end and at + len(data) > done:
                    buf = bytearray(chunk)
                    lo = max(at, done)
                    hi = min(at + len(data), end)
                    buf[lo - done : hi - done] = data[lo - at : hi - at]
                    chunk = bytes(buf)
            done = end
            yield chunk
        if done != self.length:
            raise Changed("entry content changed while being rewritten")


Segment = Union[bytes, Copy, Inflated]


def deflate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`chunks` as one raw deflate stream, with the fixed settings above."""
    engine = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY)
    for chunk in chunks:
        out = engine.compress(chunk)
        if out:
            yield out
    yield engine.flush()


def read_at(src: BinaryIO, offset: int, size: int) -> bytes:
    src.seek(offset)
    return src.read(size)


def read_exact(src: BinaryIO, offset: int, size: int) -> bytes:
    data = read_at(src, offset, size)
    if len(data) != size:
        raise Unsupported(f"truncated: {size} bytes expected at offset {offset}")
    return data


def contains(src: BinaryIO, needle: bytes, start: int, end: int) -> bool:
    """Whether `needle` occurs in the bytes from `start` to `end`, read in bounded chunks."""
    overlap = len(needle) - 1
    pos = start
    while pos < end:
        block = read_at(src, pos, min(CHUNK, end - pos))
        if not block:
            return False
        if needle in block:
            return True
        if pos + len(block) >= end:
            return False
        pos += len(block) - overlap
    return False


def inflate(src: BinaryIO, offset: int, size: int, deflated: bool) -> Iterator[bytes]:
    """The content of `size` stored or raw-deflated bytes at `offset`, in bounded chunks."""
    engine = zlib.decompressobj(-15) if deflated else None
    src.seek(offset)
    left = size
    while left:
        data = src.read(min(CHUNK, left))
        if not data:
            raise Unsupported("truncated compressed data")
        left -= len(data)
        if engine is None:
            yield data
            continue
        try:
            while data:
                out = engine.decompress(data, CHUNK)
                data = engine.unconsumed_tail
                if out:
                    yield out
        except zlib.error as exc:
            raise Unsupported(f"corrupt deflate data: {exc}") from None
    if engine is not None:
        tail = engine.flush()
        if tail:
            yield tail
        if not engine.eof:
            raise Unsupported("deflate stream ends early")


class Plan:
    """The output as segments, with the list of kinds of change for the report."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.changes: set[str] = set()

    def add(self, segment: Segment) -> None:
        last = self.segments[-1] if self.segments else None
        if (
            isinstance(segment, Copy)
            and isinstance(last, Copy)
            and last.offset + last.length == segment.offset
        ):
            self.segments[-1] = Copy(last.offset, last.length + segment.length)
            return
        self.segments.append(segment)

    def same_as(self, src: BinaryIO, size: int) -> bool:
        """True when writing the plan would reproduce the original byte for byte."""
        pos = 0
        for seg in self.segments:
            if isinstance(seg, Inflated):
                return False
            if isinstance(seg, Copy):
                if seg.offset != pos:
                    return False
                pos += seg.length
            else:
                if read_at(src, pos, len(seg)) != seg:
                    return False
                pos += len(seg)
        return pos == size

    def describe(self, fmt: str) -> str:
        return f"{fmt}: " + ", ".join(sorted(self.changes)) if self.changes else fmt

    def write(self, src: BinaryIO, dst: BinaryIO) -> None:
        for seg in self.segments:
            if isinstance(seg, bytes):
                dst.write(seg)
            elif isinstance(seg, Inflated):
                for chunk in seg.output(src):
                    dst.write(chunk)
            else:
                src.seek(seg.offset)
                left = seg.length
                while left:
                    data = src.read(min(CHUNK, left))
                    if not data:
                        raise Changed("the original is shorter than when it was inspected")
                    dst.write(data)
                    left -= len(data)
