"""ar archives (static libraries, .deb): member mtime to the target, uid/gid 0, mode 644/755.

GNU (`/` and `/SYM64/` symbol tables, `//` long names, `/N` references) and BSD (`#1/N`,
`__.SYMDEF`) variants are read; member data is copied as it is. Headers are fixed width, so the
output has the same size as the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from rootnorm.archives.plan import Copy, Plan, Unsupported, read_at, read_exact

MAGIC = b"!<arch>\n"
THIN = b"!<thin>\n"
HEADER = 60
MAX_NAMES = 16 << 20  # a GNU long-name table larger than this is not a real library
SPECIAL = (b"/", b"//", b"/SYM64/", b"ARFILENAMES/")  # symbol and name tables keep their mode


def _special(name: bytes) -> bool:
    return name in SPECIAL or name.startswith(b"__.SYMDEF")


def _number(field: bytes, base: int, what: str) -> int | None:
    text = field.rstrip(b" ")
    if not text:
        return None
    if text.isdigit():
        try:
            return int(text, base)
        except ValueError:  # an 8 or a 9 in an octal field
            pass
    raise Unsupported(f"bad {what} field {field!r}")


def _field(value: int | None, width: int, fmt: str) -> bytes:
    if value is None:
        return b" " * width
    text = format(value, fmt).encode()
    if len(text) > width:
        raise Unsupported(f"value {value} does not fit a {width}-byte field")
    return text.ljust(width)


def _member_name(raw: bytes, data: int, names: bytes, src: BinaryIO) -> bytes:
    """The member's file name (GNU long names and BSD `#1/N` resolved); special names as is."""
    name = raw.rstrip(b" ")
    if _special(name):
        return name
    if name.startswith(b"#1/"):
        length = _number(name[3:], 10, "BSD name length") or 0
        return read_exact(src, data, length).rstrip(b"\0")
    if name.startswith(b"/") and name[1:].isdigit():
        start = int(name[1:])
        end = names.find(b"\n", start)
        if start >= len(names) or end < 0:
            raise Unsupported(f"long name reference {name!r} outside the name table")
        return names[start:end].rstrip(b"/")
    return name[:-1] if name.endswith(b"/") else name


def _check_name(name: bytes) -> None:
    if not name or b"/" in name or name in (b".", b"..") or b"\0" in name:
        raise Unsupported(f"unsafe member name {name!r}")


def plan(src: BinaryIO, size: int, target: Callable[[int], int]) -> Plan:
    head = read_at(src, 0, len(MAGIC))
    if head == THIN:
        raise Unsupported("thin archive (members live in other files)")
    if head != MAGIC:
        raise Unsupported("no ar magic")
    result = Plan()
    result.add(Copy(0, len(MAGIC)))
    names = b""
    pos = len(MAGIC)
    while pos < size:
        header = read_exact(src, pos, HEADER)
        if header[58:60] != b"`\n":
            raise Unsupported(f"bad member header at offset {pos}")
        raw_name = header[:16]
        length = _number(header[48:58], 10, "size")
        if length is None:
            raise Unsupported(f"member at offset {pos} has no size")
        data = pos + HEADER
        if data + length > size:
            raise Unsupported(f"member at offset {pos} runs past the end of the file")
        name = _member_name(raw_name, data, names, src)
        if name == b"//":
            if length > MAX_NAMES:
                raise Unsupported("long-name table too large")
            names = read_exact(src, data, length)
        elif not _special(name):
            _check_name(name)
        mtime = _number(header[16:28], 10, "mtime")
        uid = _number(header[28:34], 10, "uid")
        gid = _number(header[34:40], 10, "gid")
        mode = _number(header[40:48], 8, "mode")
        new_mtime = None if mtime is None else target(mtime)
        new_mode = mode if mode is None or _special(name) else (0o755 if mode & 0o100 else 0o644)
        new_uid = None if uid is None else 0
        new_gid = None if gid is None else 0
        new_header = b"".join(
            (
                raw_name,
                _field(new_mtime, 12, "d"),
                _field(new_uid, 6, "d"),
                _field(new_gid, 6, "d"),
                _field(new_mode, 8, "o"),
                header[48:],
            )
        )
        if new_header == header:
            result.add(Copy(pos, HEADER))
        else:
            changed = [
                what
                for what, old, new in (
                    ("mtime", mtime, new_mtime),
                    ("uid/gid", (uid, gid), (new_uid, new_gid)),
                    ("mode", mode, new_mode),
                )
                if old != new
            ]
            result.changes.update(changed or ["header field formatting"])
            result.add(new_header)
        end = data + length + (length & 1)
        result.add(Copy(data, min(end, size) - data))
        pos = end
    return result
