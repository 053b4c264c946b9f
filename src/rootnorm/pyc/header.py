"""Bytecode cache headers: which layout a magic number implies, and what the header says.

Layouts (all fields little-endian uint32):
  magic < 3210 (Python 1.x/2.x, 3.0-3.2):  magic, mtime                      8 bytes
  3210 <= magic <= 3391 (3.3 - 3.7a2):     magic, mtime, source size       12 bytes
  magic >= 3392 (PEP 552, 3.7+):           magic, flags, mtime, size       16 bytes
                                           or magic, flags, 8-byte hash    (flags bit 0 set)
3390/3391 (3.7a1-a3) still use the 12-byte layout: PEP 552 starts at 3392.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

FLAG_HASH_BASED = 0b01
FLAG_CHECK_SOURCE = 0b10
CHECKED_HASH = FLAG_HASH_BASED | FLAG_CHECK_SOURCE

PEP552_FIRST = 3392
KNOWN_LAST = 3699  # through the 3.15 series; later magics are "future" and handled strictly
FUTURE_LAST = 3999
MARSHAL_CODE = (0x63, 0xE3)  # TYPE_CODE, with and without FLAG_REF


class Header(NamedTuple):  # a tuple, not a dataclass: one is made per pyc in the tree
    magic: int
    size: int  # header length: 8, 12 or 16
    flags: int
    mtime: int | None  # None for hash-based pycs
    source_size: int | None  # None for the 8-byte layout and hash-based pycs

    @property
    def hash_based(self) -> bool:
        return bool(self.flags & FLAG_HASH_BASED)

    @property
    def mtime_offset(self) -> int:
        return 8 if self.size == 16 else 4

    @property
    def known_cpython(self) -> bool:
        """A released or alpha CPython magic: its source-hash variant is known."""
        return PEP552_FIRST <= self.magic <= KNOWN_LAST


def layout_for(magic: int) -> int | None:
    if 20121 <= magic <= 62211 or 3000 <= magic < 3210:
        return 8
    if 3210 <= magic < PEP552_FIRST:
        return 12
    if PEP552_FIRST <= magic <= FUTURE_LAST:
        return 16
    return None


def parse(head: bytes) -> Header | str:
    """Parse the start of a file named like a pyc; a string says why it is not a usable one."""
    if len(head) < 4:
        return "truncated: shorter than a magic number"
    if head[2:4] != b"\r\n":
        return "not a bytecode cache: no pyc magic number"
    magic = int.from_bytes(head[:2], "little")
    size = layout_for(magic)
    if size is None:
        return f"magic number {magic} is not a CPython one (PyPy or unknown)"
    if len(head) <= size:
        return f"truncated: {len(head)} bytes, the header alone is {size}"
    if head[size] not in MARSHAL_CODE:
        return "no code object after the header"
    if size == 8:
        (mtime,) = struct.unpack_from("<I", head, 4)
        return Header(magic, size, 0, mtime, None)
    if size == 12:
        mtime, source_size = struct.unpack_from("<II", head, 4)
        return Header(magic, size, 0, mtime, source_size)
    flags, mtime, source_size = struct.unpack_from("<III", head, 4)
    if flags & ~CHECKED_HASH:
        return f"invalid PEP 552 flags {flags:#x}"
    if flags & FLAG_HASH_BASED:
        return Header(magic, size, flags, None, None)
    return Header(magic, size, flags, mtime, source_size)
