"""Hostile pycs for the running interpreter: each one makes an unchecked `marshal.loads` take
gigabytes, hang, or crash the process. Used by the tests and as seeds of the pyc fuzz target."""

from __future__ import annotations

import importlib.util
import marshal
import re
import struct
import sys

SOURCE = b"x = 1\n"
_INTS = b"\0\0\0\0" * (5 if sys.version_info >= (3, 11) else 6)  # a code object's int32 fields
_HUGE = struct.pack("<i", 2**31 - 1)


def header(source: bytes = SOURCE, mtime: int = 12345) -> bytes:
    """A timestamp header of this Python whose size field matches `source`: with any other
    mtime than the source's, the cache gets verified by content."""
    return importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, mtime, len(source))


def _ref_dag(levels: int = 5, fan: int = 64) -> bytes:
    """A frozenset holding a tuple of `fan` references to one tuple, `levels` deep: 1.7 KB that
    loading hashes (and interning, comparing would walk) as fan**levels leaves. In place of a
    code object's first field: marshal builds it before it checks any type."""
    value: tuple[object, ...] = ("leaf",)
    for _ in range(levels):
        value = (value,) * fan
    return b"c" + _INTS + b">" + struct.pack("<i", 1) + marshal.dumps(value)


def _ref_cycle() -> bytes:
    """A code object whose constant is a tuple that references itself: interning the
    constants recurses until the C stack overflows (a segfault, not an exception)."""
    data = marshal.dumps(compile(SOURCE, "m", "exec").replace(co_consts=((None,),)))
    found = re.search(rb"[)\xa9]\x01[)\xa9]\x01N", data)  # ((None,),), either tuple flagged
    assert found is not None
    inner = found.start() + 2
    code_field = 1 + len(_INTS)
    slot = sum(1 for at in (0, code_field, inner - 2) if data[at] & 0x80)
    return data[:inner] + b"\xa9\x01r" + struct.pack("<i", slot) + data[inner + 3 :]


def bodies() -> dict[str, bytes]:
    """Marshal streams (what follows the header) by name."""
    return {
        "huge-tuple": b"\xe3" + _INTS + b"(" + _HUGE,  # 16 GB preallocated, then EOF
        "huge-list": b"\xe3" + _INTS + b"[" + _HUGE,
        "huge-long": b"\xe3" + _INTS + b"l" + _HUGE,
        "ref-dag": _ref_dag(),
        "ref-cycle": _ref_cycle(),
        "deep": b"\xe3" + _INTS + b")\x01" * 100_000 + b"N",
    }
