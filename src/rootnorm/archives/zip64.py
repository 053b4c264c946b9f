"""Zip64: the extra field and end records that hold sizes, offsets and counts a classic zip
header cannot (4 GiB and more, 65,535 entries and more).

A header field set to its all-ones value says "the real value is in the zip64 extra field";
the field holds, in this order, only the values whose header field says so. The planner keeps
every header the packer marked (an archive written zip64 throughout stays so) and marks the
ones that need it.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from rootnorm.archives import zipextra
from rootnorm.archives.plan import Unsupported

LIMIT32 = 0xFFFFFFFF
LIMIT16 = 0xFFFF
VERSION = 45  # "version needed to extract" of an entry or archive that uses zip64
END = struct.Struct("<4sQ2H2I4Q")  # zip64 end of central directory record, without extension
END_SIG = b"PK\x06\x06"
LOCATOR = struct.Struct("<4sIQI")
LOCATOR_SIG = b"PK\x06\x07"
# Central header fields a zip64 field can stand in for, in the field's order.
SIZE, COMPRESSED, OFFSET, DISK = 1, 2, 4, 8


class Values(NamedTuple):
    size: int
    compressed: int
    offset: int
    disk: int


def marked(size: int, compressed: int, offset: int, disk: int) -> int:
    """Which of a central header's fields say "see the zip64 field" (all ones)."""
    return (
        (SIZE if size == LIMIT32 else 0)
        | (COMPRESSED if compressed == LIMIT32 else 0)
        | (OFFSET if offset == LIMIT32 else 0)
        | (DISK if disk == LIMIT16 else 0)
    )


def needed(size: int, compressed: int, offset: int) -> int:
    """The fields whose value does not fit a classic header."""
    return (
        (SIZE if size >= LIMIT32 else 0)
        | (COMPRESSED if compressed >= LIMIT32 else 0)
        | (OFFSET if offset >= LIMIT32 else 0)
    )


def field(extra: bytes) -> bytes | None:
    """The data of the zip64 field of `extra`, if it has one."""
    if not extra:
        return None
    for ident, data in zipextra.fields(extra):
        if ident == zipextra.ZIP64:
            return data
    return None


def decode(data: bytes | None, marks: int, header: Values) -> tuple[Values, bytes]:
    """The header's values with the marked ones read from zip64 field `data`, and the bytes
    of the field after them (kept as they are)."""
    values = list(header)
    pos = 0
    for k, bit in enumerate((SIZE, COMPRESSED, OFFSET, DISK)):
        if not marks & bit:
            continue
        width = 4 if bit == DISK else 8
        if data is None or pos + width > len(data):
            raise Unsupported("zip64 field missing or too short")
        values[k] = int.from_bytes(data[pos : pos + width], "little")
        pos += width
    return Values(*values), (data or b"")[pos:]


def encode(marks: int, values: Values, tail: bytes) -> bytes:
    """A zip64 field's data for the marked values, then `tail`."""
    out = [
        value.to_bytes(4 if bit == DISK else 8, "little")
        for bit, value in zip((SIZE, COMPRESSED, OFFSET, DISK), values)
        if marks & bit
    ]
    return b"".join(out) + tail


def header_values(marks: int, values: Values) -> Values:
    """What the classic header fields hold: all ones where marked."""
    return Values(
        LIMIT32 if marks & SIZE else values.size,
        LIMIT32 if marks & COMPRESSED else values.compressed,
        LIMIT32 if marks & OFFSET else values.offset,
        LIMIT16 if marks & DISK else values.disk,
    )


def with_field(extra: bytes, data: bytes) -> bytes:
    """`extra` with its zip64 field's data replaced by `data`, in place; first if it had none."""
    head = zipextra.HEAD.pack(zipextra.ZIP64, len(data)) + data
    out = []
    found = False
    for ident, old in zipextra.fields(extra):
        if ident == zipextra.ZIP64 and not found:
            out.append(head)
            found = True
        else:
            out.append(old if ident < 0 else zipextra.HEAD.pack(ident, len(old)) + old)
    return b"".join(out) if found else head + extra


def needs_version(version: int) -> int:
    """A "version needed" field raised to what zip64 needs (the host byte kept)."""
    return version if version & 0xFF >= VERSION else (version & 0xFF00) | VERSION


class End(NamedTuple):
    """What the zip64 end record says, and which classic end record fields defer to it."""

    made_by: int
    needed: int
    entries: int
    cd_size: int
    cd_offset: int
    marks: int  # 1: the entry counts, 2: the directory size, 4: its offset (all ones)


def end_marks(count: int, cd_size: int, cd_offset: int) -> int:
    return (
        (1 if count == LIMIT16 else 0)
        | (2 if cd_size == LIMIT32 else 0)
        | (4 if cd_offset == LIMIT32 else 0)
    )


def read_end(tail: bytes, pos: int) -> tuple[End, int] | None:
    """The zip64 end record whose locator sits just before the classic end record at `pos`
    of `tail`, and where that record starts in `tail`; None when there is no locator."""
    if pos < LOCATOR.size or tail[pos - LOCATOR.size : pos - LOCATOR.size + 4] != LOCATOR_SIG:
        return None
    _, disk, _, disks = LOCATOR.unpack_from(tail, pos - LOCATOR.size)
    if disk or disks > 1:
        raise Unsupported("multi-disk archive")
    start = pos - LOCATOR.size - END.size
    if start < 0 or tail[start : start + 4] != END_SIG:
        raise Unsupported("zip64 end record not just before its locator")
    _, record_size, made_by, need, disk, cd_disk, here, count, cd_size, cd_offset = END.unpack_from(
        tail, start
    )
    if record_size != END.size - 12:
        raise Unsupported("zip64 end record with extensible data")
    if disk or cd_disk or here != count:
        raise Unsupported("multi-disk archive")
    return End(made_by, need, count, cd_size, cd_offset, 0), start


def write_end(end: End, cd_end: int, base: int) -> bytes:
    """The zip64 end record and its locator, for a directory ending at `cd_end`."""
    record = END.pack(
        END_SIG,
        END.size - 12,
        end.made_by,
        end.needed,
        0,
        0,
        end.entries,
        end.entries,
        end.cd_size,
        end.cd_offset,
    )
    return record + LOCATOR.pack(LOCATOR_SIG, 0, cd_end - base, 1)
