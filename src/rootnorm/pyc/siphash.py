"""SipHash as CPython keys it for hash-based pycs, in pure Python.

`importlib.util.source_hash` only hashes for the running interpreter's magic. This module
reproduces it for any CPython 3.7+ target: key k0 = the pyc's 4 magic bytes as a little-endian
integer, k1 = 0; SipHash-2-4 up to 3.10, SipHash-1-3 from 3.11.
"""

from __future__ import annotations

import importlib.util
import struct

MASK = 0xFFFFFFFFFFFFFFFF
FIRST_SIPHASH13_MAGIC = 3450  # the 3.11 series (3.10 ends at 3439)


def _rounds(v0: int, v1: int, v2: int, v3: int, n: int) -> tuple[int, int, int, int]:
    for _ in range(n):
        v0 = (v0 + v1) & MASK
        v1 = (((v1 << 13) | (v1 >> 51)) & MASK) ^ v0
        v0 = ((v0 << 32) | (v0 >> 32)) & MASK
        v2 = (v2 + v3) & MASK
        v3 = (((v3 << 16) | (v3 >> 48)) & MASK) ^ v2
        v0 = (v0 + v3) & MASK
        v3 = (((v3 << 21) | (v3 >> 43)) & MASK) ^ v0
        v2 = (v2 + v1) & MASK
        v1 = (((v1 << 17) | (v1 >> 47)) & MASK) ^ v2
        v2 = ((v2 << 32) | (v2 >> 32)) & MASK
    return v0, v1, v2, v3


def siphash(k0: int, k1: int, data: bytes, c_rounds: int, d_rounds: int) -> int:
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    tail_start = len(data) - len(data) % 8
    # The compression rounds are written out in the loop (no call per block): this loop is all
    # the time of a checked-hash conversion for another Python than the running one.
    c_range = range(c_rounds)
    for (m,) in struct.iter_unpack("<Q", memoryview(data)[:tail_start]):
        v3 ^= m
        for _ in c_range:
            v0 = (v0 + v1) & MASK
            v1 = (((v1 << 13) | (v1 >> 51)) & MASK) ^ v0
            v0 = ((v0 << 32) | (v0 >> 32)) & MASK
            v2 = (v2 + v3) & MASK
            v3 = (((v3 << 16) | (v3 >> 48)) & MASK) ^ v2
            v0 = (v0 + v3) & MASK
            v3 = (((v3 << 21) | (v3 >> 43)) & MASK) ^ v0
            v2 = (v2 + v1) & MASK
            v1 = (((v1 << 17) | (v1 >> 47)) & MASK) ^ v2
            v2 = ((v2 << 32) | (v2 >> 32)) & MASK
        v0 ^= m
    last = ((len(data) & 0xFF) << 56) | int.from_bytes(data[tail_start:], "little")
    v3 ^= last
    v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, c_rounds)
    v0 ^= last
    v2 ^= 0xFF
    v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, d_rounds)
    return v0 ^ v1 ^ v2 ^ v3


def source_hash(magic: bytes, source: bytes) -> bytes:
    """The 8 bytes a checked-hash pyc with header `magic` (4 bytes) stores for `source`."""
    if magic == importlib.util.MAGIC_NUMBER:
        return importlib.util.source_hash(source)
    number = int.from_bytes(magic[:2], "little")
    c_rounds, d_rounds = (1, 3) if number >= FIRST_SIPHASH13_MAGIC else (2, 4)
    value = siphash(int.from_bytes(magic, "little"), 0, source, c_rounds, d_rounds)
    return value.to_bytes(8, "little")
