"""Hostile pycs for the running interpreter: each one makes an unchecked `marshal.loads` take
gigabytes, hang, or crash the process. Used by the tests and as seeds of the pyc fuzz target."""

from __future__ import annotations

import importlib.util
import marshal
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
    inner = (None,)
    outer = (inner,)
    code = compile(SOURCE, "m", "exec", dont_inherit=True).replace(co_consts=(outer,))
    data = marshal.dumps(code)  # all three referenced here, so flagged: as in a real pyc
    at = data.index(b"\xa9\x01\xa9\x01N") + 4  # the None in ((None,),)
    flagged_before = sum(1 for pos in (0, 1 + len(_INTS)) if data[pos] & 0x80)  # code, co_code
    slot = flagged_before + 1  # then the outer tuple, then this one
    return data[:at] + b"r" + struct.pack("<i", slot) + data[at + 1 :]


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
