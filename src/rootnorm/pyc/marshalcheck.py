"""A bounded reader of the marshal stream in a pyc, run before `marshal.loads` ever sees it.

marshal trusts its input: it allocates a tuple of the count a stream declares before reading
one element (a 42-byte pyc declaring 2**31-1 items takes 16 GB), and references (TYPE_REF) let
a few KB describe a tuple of billions of leaves, which loading (string interning, frozenset
hashing) and comparing code objects then walk in full. This reader follows the stream of the
running interpreter's format (marshal version 4, CPython 3.9-3.13) without building anything
and refuses it unless:

- every declared count or length fits in the bytes that remain (an element takes at least one);
- every reference names an object already read completely (no cycles);
- the stream holds only what marshal writes for compiled code: None, booleans, Ellipsis, ints,
  floats, complex numbers, bytes, str, tuples, frozensets and code objects whose fields have
  the types the code constructor requires (no lists, dicts, sets, StopIteration, NULL);
- nesting stays within MAX_DEPTH, and the whole object with every reference expanded stays
  within WEIGHT_PER_BYTE times the stream's length (plus WEIGHT_BASE), counting each object
  as 1 plus 1/32 of its payload bytes (comparing bytes is cheap, making objects is not).

What passes costs `marshal.loads` a small multiple of the stream's size in memory and time, and
the same bound holds for comparing the result with a fresh compile (a comparison walks at most
the expanded object). Real caches pass: all 40,568 pycs of the 3.9-3.13 standard libraries do.
"""

from __future__ import annotations

import struct
import sys

MAX_DEPTH = 1000  # compile nests far less (200 parentheses, 100 indents); marshal allows 2000
WEIGHT_PER_BYTE = 1  # expanded weight per stream byte: real caches stay below 0.25
WEIGHT_BASE = 1 << 16

FLAG_REF = 0x80
_int32 = struct.Struct("<i").unpack_from
_NO_PAYLOAD = {ord("N"): "none", ord("F"): "bool", ord("T"): "bool", ord("."): "ellipsis"}
_FIXED = {ord("i"): (4, "int"), ord("g"): (8, "float"), ord("y"): (16, "complex")}
_SIZED32 = {ord("s"): "bytes", ord("t"): "str", ord("u"): "str", ord("a"): "str", ord("A"): "str"}
_SIZED8 = {ord("z"): "str", ord("Z"): "str"}
_LONG = ord("l")
_REF = ord("r")
_SMALL_TUPLE = ord(")")
_TUPLE = ord("(")
_FROZENSET = ord(">")
_CODE = ord("c")

# A code object: some int32 fields, then objects of these kinds (None: another int32).
# "names" is a tuple of str only; "tuple" accepts it too.
if sys.version_info >= (3, 11):
    _CODE_INTS = 5  # argcount, posonlyargcount, kwonlyargcount, stacksize, flags
    _CODE_FIELDS: tuple[str | None, ...] = (
        "bytes", "tuple", "names", "names", "bytes",  # code consts names localsplus kinds
        "str", "str", "str", None, "bytes", "bytes",  # filename name qualname line tables
    )  # fmt: skip
else:
    _CODE_INTS = 6  # argcount, posonlyargcount, kwonlyargcount, nlocals, stacksize, flags
    _CODE_FIELDS = (
        "bytes", "tuple", "names", "names", "names", "names",  # code consts names vars free cell
        "str", "str", None, "bytes",  # filename name firstlineno lnotab/linetable
    )  # fmt: skip


class _Open:
    """A container being read: what it still needs, and what it has so far."""

    __slots__ = ("kind", "left", "names_only", "slot", "weight")

    def __init__(self, kind: str, left: int, slot: int | None) -> None:
        self.kind = kind  # "tuple", "frozenset" or "code"
        self.left = left  # elements (or code fields) still to read
        self.slot = slot
        self.weight = 1
        self.names_only = True


def problem(data: bytes, start: int) -> str | None:
    """Why `marshal.loads(data[start:])` is not safe to call, or None when it is."""
    end = len(data)
    limit = WEIGHT_PER_BYTE * (end - start) + WEIGHT_BASE
    refs: list[tuple[str, int] | None] = []  # kind and expanded weight; None while open
    stack: list[_Open] = []
    pos = start
    while True:
        if pos >= end:
            return "marshal data truncated"
        code = data[pos] & ~FLAG_REF
        slot = None
        if data[pos] & FLAG_REF:
            if code == _REF:
                return "marshal data with a flagged reference"
            slot = len(refs)
            refs.append(None)
        pos += 1
        kind = ""
        weight = 1
        count = -1  # a container's element count: pushed below
        if code in _SIZED8:
            if pos >= end:
                return "marshal data truncated"
            size = data[pos]
            kind = _SIZED8[code]
            pos += 1 + size
            weight += size >> 5
        elif code == _REF:
            if pos + 4 > end:
                return "marshal data truncated"
            index = _int32(data, pos)[0]
            pos += 4
            if not 0 <= index < len(refs):
                return "marshal data with an invalid reference"
            known = refs[index]
            if known is None:
                return "marshal data with a reference to an object still being read"
            kind, weight = known
        elif code == _SMALL_TUPLE:
            if pos >= end:
                return "marshal data truncated"
            kind, count = "tuple", data[pos]
            pos += 1
        elif code in _NO_PAYLOAD:
            kind = _NO_PAYLOAD[code]
        elif code in _FIXED:
            size, kind = _FIXED[code]
            pos += size
            weight += size >> 5
        elif code in _SIZED32 or code == _LONG:
            if pos + 4 > end:
                return "marshal data truncated"
            size = _int32(data, pos)[0]
            if code == _LONG:
                kind, size = "int", 2 * abs(size)  # 15-bit digits, two bytes each
            elif size < 0:
                return "marshal data with a negative length"
            else:
                kind = _SIZED32[code]
            pos += 4 + size
            weight += size >> 5
        elif code in (_TUPLE, _FROZENSET):
            if pos + 4 > end:
                return "marshal data truncated"
            kind = "tuple" if code == _TUPLE else "frozenset"
            count = _int32(data, pos)[0]
            pos += 4
            if count < 0:
                return "marshal data with a negative length"
        elif code == _CODE:
            ints = 4 * _CODE_INTS
            if pos + ints > end:
                return "marshal data truncated"
            if any(data[at + 3] & 0x80 for at in range(pos, pos + ints, 4)):
                return "code object with a negative count"
            kind, count = "code", len(_CODE_FIELDS)
            pos += ints
        else:
            return f"marshal type {chr(code)!r} is never in a pyc of this Python"
        if pos > end or count > end - pos:
            return "marshal data declares more than it holds"
        if count > 0:
            if len(stack) >= MAX_DEPTH:
                return f"marshal data nested deeper than {MAX_DEPTH}"
            stack.append(_Open(kind, count, slot))
            if kind == "code":
                pos = _skip_ints(stack[-1], pos)
            continue
        if count == 0:
            kind = "names" if kind == "tuple" else kind
        # One object is complete: hand it to the containers it closes.
        while True:
            if slot is not None:
                refs[slot] = (kind, weight)
            if not stack:
                return None if kind == "code" else "no code object in the pyc"
            parent = stack[-1]
            if parent.kind == "code":
                field = _CODE_FIELDS[len(_CODE_FIELDS) - parent.left]
                if kind != field and not (field == "tuple" and kind == "names"):
                    return f"code object field of type {kind}, not {field}"
            elif kind != "str":
                parent.names_only = False
            parent.weight += weight
            if parent.weight > limit:
                return "marshal data whose references expand beyond a bound of its size"
            parent.left -= 1
            if parent.kind == "code":
                pos = _skip_ints(parent, pos)
                if pos > end:
                    return "marshal data truncated"
            if parent.left:
                break
            stack.pop()
            kind, weight, slot = parent.kind, parent.weight, parent.slot
            if kind == "tuple" and parent.names_only:
                kind = "names"


def _skip_ints(code: _Open, pos: int) -> int:
    """Step over the int32 fields a code object has at this point (firstlineno)."""
    while code.left and _CODE_FIELDS[len(_CODE_FIELDS) - code.left] is None:
        code.left -= 1
        pos += 4
    return pos
