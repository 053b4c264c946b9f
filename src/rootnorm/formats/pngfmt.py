"""PNG: the tIME chunk and date-like text chunks (tEXt, zTXt, iTXt) set by the mtime policy.

tIME, the image's last-modification time, is set like any other stored time (the peers set
it too), and removed when the new time is before 1995: PNG did not exist then, pngcheck
rejects such a year as invalid, and a missing tIME is how PNG says "no time" (the ostree
profile's 0). Text chunks whose keyword is `Creation Time` (the PNG keyword) or starts with
`date:` (ImageMagick's `date:create`, `date:modify`, `date:timestamp`) get the new time in
UTC, in the shape their value had (ISO 8601, or RFC 1123 for `Creation Time`); compressed
text is recompressed with fixed settings, and the chunk's CRC is recomputed. A value that is
not a date is kept. Every other chunk is copied byte for byte.

Walking the chunks reads only their 8-byte headers, so an image that needs nothing costs a
few small reads per chunk; only when something changes are all CRCs checked (streamed), so a
corrupt or truncated image is never rewritten.
"""

from __future__ import annotations

import calendar
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from email.utils import formatdate, parsedate_tz
from typing import BinaryIO

from rootnorm.archives.plan import CHUNK, Copy, Plan, Unsupported, read_at, read_exact

SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEAD = struct.Struct(">I4s")
TIME = struct.Struct(">HBBBBB")
MAX_LENGTH = 0x7FFFFFFF  # the PNG limit of a chunk's length
EARLIEST = 788_918_400  # 1995-01-01 UTC: an earlier tIME is invalid for pngcheck
MAX_TEXT = 64 << 10  # a date-like text chunk is tens of bytes; more is not a date
TEXTS = (b"tEXt", b"zTXt", b"iTXt")
ISO = re.compile(rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)")


def chunks(src: BinaryIO, size: int) -> Iterator[tuple[int, int, bytes]]:
    """(offset, data length, type) of every chunk up to IEND, checked to lie in the file."""
    if read_at(src, 0, 8) != SIGNATURE:
        raise Unsupported("no PNG signature")
    pos = 8
    while True:
        head = read_at(src, pos, 8)
        if len(head) < 8:
            raise Unsupported(f"truncated: no IEND chunk (offset {pos})")
        length, kind = HEAD.unpack(head)
        if length > MAX_LENGTH:
            raise Unsupported(f"chunk length {length} at offset {pos} is over 2^31-1")
        if not kind.isalpha():
            raise Unsupported(f"chunk type {kind!r} at offset {pos} is not four letters")
        if pos == 8 and kind != b"IHDR":
            raise Unsupported(f"first chunk is {kind!r}, not IHDR")
        if pos + 12 + length > size:
            raise Unsupported(f"truncated: the {kind.decode()} chunk at offset {pos} runs past")
        yield pos, length, kind
        pos += 12 + length
        if kind == b"IEND":
            break
    if pos != size:
        raise Unsupported(f"{size - pos} bytes after the IEND chunk")


def _check_crc(src: BinaryIO, pos: int, length: int) -> None:
    src.seek(pos + 4)
    crc = 0
    left = 4 + length  # the type and the data
    while left:
        data = src.read(min(CHUNK, left))
        if not data:
            raise Unsupported(f"truncated: the chunk at offset {pos} ends early")
        crc = zlib.crc32(data, crc)
        left -= len(data)
    if src.read(4) != struct.pack(">I", crc):
        raise Unsupported(f"wrong CRC in the chunk at offset {pos}")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _new_time(data: bytes, target: Callable[[int], int]) -> bytes | None:
    """The new tIME data, b"" to drop the chunk, or None to keep it."""
    year, month, day, hour, minute, second = TIME.unpack(data)
    days = calendar.monthrange(year, month)[1] if 1 <= month <= 12 and 1 <= year <= 9999 else 0
    if not (1 <= day <= days and hour < 24 and minute < 60 and second <= 60):
        raise Unsupported(f"tIME chunk holds no valid time: {tuple(TIME.unpack(data))}")
    old = calendar.timegm((year, month, day, hour, minute, second))
    new = target(old)
    if new == old:
        return None
    if new < EARLIEST:
        return b""  # the chunk is dropped
    try:
        return TIME.pack(*time.gmtime(new)[:6])
    except (struct.error, ValueError, OverflowError, OSError):
        raise Unsupported(f"the new time {new} does not fit a tIME chunk") from None


def _new_text(value: bytes, target: Callable[[int], int]) -> bytes | None:
    """A date text with its time set by `target`, in UTC and in its own shape; None to keep
    it (not a date, or not one this platform's calendar can represent)."""
    try:
        return _retimed(value, target)
    except (ValueError, OverflowError, OSError):
        return None


def _retimed(value: bytes, target: Callable[[int], int]) -> bytes | None:
    iso = ISO.fullmatch(value)
    if iso is not None:
        zone = iso[7]
        offset = 0 if zone == b"Z" else int(zone[:3]) * 3600 + int(zone[:1] + zone[-2:]) * 60
        fields = tuple(int(iso[i]) for i in range(1, 7))
        if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24):
            return None
        old = calendar.timegm((*fields, 0, 0, 0)) - offset
        new = target(old)
        if new == old:
            return None
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(new)).encode()
    parsed = parsedate_tz(value.decode("latin-1"))
    if parsed is None or parsed[9] is None:
        return None
    old = calendar.timegm((*parsed[:6], 0, 0, 0)) - parsed[9]
    new = target(old)
    return None if new == old else formatdate(new, usegmt=True).encode()


def _inflate(data: bytes, where: str) -> bytes:
    engine = zlib.decompressobj()
    try:
        out = engine.decompress(data, MAX_TEXT)
    except zlib.error as exc:
        raise Unsupported(f"{where}: corrupt compressed text: {exc}") from None
    if not engine.eof or engine.unconsumed_tail:
        raise Unsupported(f"{where}: compressed text is cut short or over {MAX_TEXT} bytes")
    return out


def _new_text_data(
    kind: bytes, keyword: bytes, rest: bytes, target: Callable[[int], int]
) -> bytes | None:
    """The chunk's new data after its keyword and NUL, or None to keep the chunk."""
    where = f"{kind.decode()} {keyword.decode('latin-1')!r}"
    if kind == b"tEXt":
        return _new_text(rest, target)
    if kind == b"zTXt":
        if rest[:1] != b"\0":
            raise Unsupported(f"{where}: unknown compression method")
        new = _new_text(_inflate(rest[1:], where), target)
        return None if new is None else b"\0" + zlib.compress(new, 9)
    # iTXt: compression flag, method, language tag, NUL, translated keyword, NUL, text
    language_end = rest.find(b"\0", 2)
    translated_end = rest.find(b"\0", language_end + 1) if language_end >= 0 else -1
    if translated_end < 0 or rest[0:1] not in (b"\0", b"\1") or rest[1:2] != b"\0":
        raise Unsupported(f"{where}: malformed international text chunk")
    prefix, text = rest[: translated_end + 1], rest[translated_end + 1 :]
    compressed = rest[0] == 1
    new = _new_text(_inflate(text, where) if compressed else text, target)
    if new is None:
        return None
    return prefix + (zlib.compress(new, 9) if compressed else new)


def _text_edit(
    src: BinaryIO, at: int, length: int, kind: bytes, target: Callable[[int], int]
) -> tuple[bytes, bytes] | None:
    """(keyword, new chunk data) for a date-like text chunk whose time changes, else None."""
    keyword, nul, _ = read_at(src, at + 8, min(length, 80)).partition(b"\0")
    if not nul or not (keyword.startswith(b"date:") or keyword == b"Creation Time"):
        return None
    if length > MAX_TEXT:
        raise Unsupported(f"{kind.decode()} chunk of {length} bytes at offset {at}")
    rest = read_exact(src, at + 8, length)[len(keyword) + 1 :]
    new = _new_text_data(kind, keyword, rest, target)
    return None if new is None else (keyword, keyword + b"\0" + new)


def plan(src: BinaryIO, size: int, target: Callable[[int], int]) -> Plan | None:
    """Plan the image with its times set by `target`, or None when nothing changes; raises
    Unsupported for anything but a well-formed PNG."""
    result = Plan()
    pos = 0
    for at, length, kind in chunks(src, size):
        if kind == b"tIME":
            if length != TIME.size:
                raise Unsupported(f"tIME chunk of {length} bytes, not 7")
            data = _new_time(read_exact(src, at + 8, length), target)
            what = "tIME removed" if data == b"" else "tIME"
        elif kind in TEXTS:
            edit = _text_edit(src, at, length, kind, target)
            data = None if edit is None else edit[1]
            what = "" if edit is None else f"{kind.decode()} {edit[0].decode('latin-1')}"
        else:
            continue
        if data is None:
            continue
        result.add(Copy(pos, at - pos))
        if data:
            result.add(_chunk(kind, data))
        result.changes.add(what)
        pos = at + 12 + length
    if not result.changes:
        return None
    for at, length, _ in chunks(src, size):
        _check_crc(src, at, length)
    result.add(Copy(pos, size - pos))
    return result
