"""The header of a fontconfig directory cache (`<md5>-le64.cache-N`) and its mtime fields.

The 64-bit layout, unchanged from fontconfig 2.13 to 2.18 (cache versions 7 to 9):

    0 magic u32 (0xFC02FC04)   4 version i32   8 size   16 dir   24 dirs   32 dirs_count i32
    40 set   48 checksum i32 (directory st_mtime)   56 checksum_nano i64 (st_mtim.tv_nsec)

The offsets at 8-40 are intptr_t. fontconfig serialises the header first and the directory
name right after it, so `dir == 64` confirms the layout (an older 56-byte header fails it).
A cache is valid when `checksum == (int) st_mtime` and `checksum_nano == tv_nsec` of the
directory; 2.13.93+ also accepts any cache of a directory whose mtime is 0.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

MAGIC = 0xFC02FC04
HEADER_SIZE = 64
CHECKSUM_OFFSET = 48
VERSIONS = range(7, 10)
NAME = re.compile(rb"[0-9a-f]{32}-(le|be)(64|32d4|32d8)\.cache-([0-9]+)")
NS = 1_000_000_000


class NotACache(ValueError):
    """The bytes do not hold a 64-bit fontconfig cache header this module knows."""


class CacheHeader(NamedTuple):
    order: str  # "<" or ">"
    version: int
    directory: bytes  # the font directory as fontconfig saw it (absolute)
    checksum: int
    checksum_nano: int
    gap: bytes  # bytes 52..56 (alignment padding), kept as they are when patching

    def matches(self, mtime_ns: int) -> bool:
        """True when fontconfig takes this cache as current for a directory with this mtime."""
        return (self.checksum, self.checksum_nano) == stamp(mtime_ns)

    def patch(self, mtime_ns: int) -> bytes:
        """Bytes 48..64 recording `mtime_ns` (one contiguous write, padding unchanged)."""
        seconds, nanos = stamp(mtime_ns)
        return (
            struct.pack(self.order + "i", seconds) + self.gap + struct.pack(self.order + "q", nanos)
        )


def stamp(mtime_ns: int) -> tuple[int, int]:
    """(checksum, checksum_nano) as fontconfig computes them: (int) st_mtime, tv_nsec."""
    seconds, nanos = divmod(mtime_ns, NS)
    return (seconds + 2**31) % 2**32 - 2**31, nanos


def is_cache_name(name: bytes) -> bool:
    return NAME.fullmatch(name) is not None


def parse(name: bytes, head: bytes, file_size: int) -> CacheHeader:
    """Read the header of cache file `name` from its first bytes (which hold the dir name)."""
    arch = NAME.fullmatch(name)
    if arch is None or arch.group(2) != b"64":
        raise NotACache("only the 64-bit cache layout (le64, be64) is handled")
    order = "<" if arch.group(1) == b"le" else ">"
    if len(head) < HEADER_SIZE or struct.unpack_from(order + "I", head)[0] != MAGIC:
        raise NotACache("no fontconfig cache magic")
    version, size, dir_offset = struct.unpack_from(order + "iqq", head, 4)
    if version not in VERSIONS:
        raise NotACache(f"cache version {version} (known: 7 to 9)")
    if size != file_size:
        raise NotACache(f"header says {size} bytes, file has {file_size}")
    end = head.find(b"\0", dir_offset)
    if dir_offset != HEADER_SIZE or end < 0 or not head.startswith(b"/", dir_offset):
        raise NotACache("no directory name after a 64-byte header")
    checksum = struct.unpack_from(order + "i", head, CHECKSUM_OFFSET)[0]
    nanos = struct.unpack_from(order + "q", head, CHECKSUM_OFFSET + 8)[0]
    return CacheHeader(order, version, head[dir_offset:end], checksum, nanos, head[52:56])
