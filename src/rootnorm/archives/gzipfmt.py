"""gzip (RFC 1952): every member's MTIME to the target, FNAME and FHCRC dropped.

The members' deflate streams are inflated once while planning, only to find where each ends
and to check its CRC and length, so a corrupt or truncated file is never rewritten. The output
copies the compressed bytes unchanged.

Most gzip files in a tree need nothing (distributions compress with `gzip -n`), and inflating
them all would cost more than the rest of a run. When the first header needs no change and no
second member can start anywhere after it, the file is proven unchanged without inflating it;
whether its data is intact is then not looked at, as nothing is written either way.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO

from rootnorm.archives.plan import CHUNK, Copy, Plan, Unsupported, contains, read_at, read_exact

MAGIC = b"\x1f\x8b"
MEMBER_START = MAGIC + b"\x08"  # every member the planner accepts starts so (method deflate)
FHCRC, FEXTRA, FNAME, FCOMMENT = 0x02, 0x04, 0x08, 0x10
FRESERVED = 0xE0
FIXED = struct.Struct("<2sBBIBB")  # magic, method, flags, mtime, extra flags, OS


def _cstring_end(src: BinaryIO, offset: int, size: int) -> int:
    """Offset just past the NUL that ends the string starting at `offset`."""
    pos = offset
    while pos < size:
        block = read_at(src, pos, 4096)
        nul = block.find(b"\0")
        if nul >= 0:
            return pos + nul + 1
        pos += len(block)
    raise Unsupported("truncated header string")


def _header(
    src: BinaryIO, offset: int, size: int, target: Callable[[int], int], changes: set[str]
) -> tuple[bytes, int]:
    """(the member's normalised header, offset of its deflate data); notes what changes."""
    magic, method, flags, mtime, xfl, os_byte = FIXED.unpack(read_exact(src, offset, FIXED.size))
    if magic != MAGIC:
        raise Unsupported(f"no gzip magic at offset {offset}")
    if method != 8:
        raise Unsupported(f"compression method {method} is not deflate")
    if flags & FRESERVED:
        raise Unsupported("reserved header flags set")
    pos = offset + FIXED.size
    extra = comment = b""
    if flags & FEXTRA:
        (xlen,) = struct.unpack("<H", read_exact(src, pos, 2))
        extra = read_exact(src, pos, 2 + xlen)
        pos += 2 + xlen
    if flags & FNAME:
        pos = _cstring_end(src, pos, size)
    if flags & FCOMMENT:
        end = _cstring_end(src, pos, size)
        comment = read_at(src, pos, end - pos)
        pos = end
    if flags & FHCRC:
        pos += 2
    new_mtime = target(mtime) if mtime else 0  # 0 means "no time stored": keep it so
    new_flags = flags & ~(FNAME | FHCRC)
    if new_mtime != mtime:
        changes.add("MTIME")
    if flags & FNAME:
        changes.add("file name dropped")
    if flags & FHCRC:
        changes.add("header CRC dropped")
    header = FIXED.pack(MAGIC, method, new_flags, new_mtime, xfl, os_byte) + extra + comment
    return header, pos


def _member_end(src: BinaryIO, offset: int) -> int:
    """Offset just past the member whose deflate data starts at `offset` (trailer checked)."""
    engine = zlib.decompressobj(-15)
    crc = length = 0
    pos = offset
    src.seek(offset)
    while not engine.eof:
        data = src.read(CHUNK)
        if not data:
            raise Unsupported("truncated deflate stream")
        pos += len(data)
        try:
            while data and not engine.eof:
                out = engine.decompress(data, CHUNK)
                crc = zlib.crc32(out, crc)
                length += len(out)
                data = engine.unconsumed_tail
        except zlib.error as exc:
            raise Unsupported(f"corrupt deflate data: {exc}") from None
    end = pos - len(engine.unused_data)
    trailer = read_exact(src, end, 8)
    if trailer != struct.pack("<II", crc, length & 0xFFFFFFFF):
        raise Unsupported("CRC or length in a member trailer does not match its data")
    return end + 8


def _settled(src: BinaryIO, size: int, target: Callable[[int], int]) -> bool:
    """True when no plan could change the file: its first header stays as it is, and a later
    member (which would need a header of its own) cannot start anywhere after it."""
    changes: set[str] = set()
    try:
        _, data_start = _header(src, 0, size, target, changes)
    except Unsupported:
        return False  # the full planner says why
    return not changes and not contains(src, MEMBER_START, data_start, size)


def plan(src: BinaryIO, size: int, target: Callable[[int], int]) -> Plan | None:
    """Plan the normalised file, or None when it is proven to need no change (see above);
    raises Unsupported for anything but well-formed gzip."""
    if _settled(src, size, target):
        return None
    result = Plan()
    pos = 0
    while True:
        header, data_start = _header(src, pos, size, target, result.changes)
        end = _member_end(src, data_start)
        result.add(header)
        result.add(Copy(data_start, end - data_start))
        pos = end
        if pos == size:
            return result
        rest = read_at(src, pos, 2)
        if rest != MAGIC:
            break
    # Trailing bytes: zero padding (tape blocks) is kept; anything else is not gzip.
    while pos < size:
        block = read_at(src, pos, CHUNK)
        if block.strip(b"\0"):
            raise Unsupported(f"trailing data after the last member at offset {pos}")
        result.add(Copy(pos, len(block)))
        pos += len(block)
    return result
