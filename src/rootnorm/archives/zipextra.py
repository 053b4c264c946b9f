"""Zip extra fields: the timestamps and owners some of them carry, set to canonical values.

Every field keeps its id and length, so headers keep their size. Fields this module does not
know are kept byte for byte, as are bytes that do not parse as fields (alignment padding).
The zip64 field is the planner's (see `zip64`): kept here as it is.
"""

from __future__ import annotations

import struct

ZIP64 = 0x0001
NTFS = 0x000A
UNIX_TIME = 0x5455  # "UT": flags, then mtime, atime, ctime as present (central: mtime only)
INFOZIP_UNIX1 = 0x5855  # "UX": atime, mtime [, uid, gid]
INFOZIP_UNIX2 = 0x7855  # "Ux": uid, gid (local only)
INFOZIP_UNIX3 = 0x7875  # "ux": version, uid size, uid, gid size, gid
FILETIME_EPOCH = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01
HEAD = struct.Struct("<HH")


def fields(extra: bytes) -> list[tuple[int, bytes]]:
    """The (id, data) fields; a tail that is not a whole field comes back with id -1."""
    if not extra:
        return []  # most entries of most archives
    out = []
    pos = 0
    while pos + HEAD.size <= len(extra):
        ident, size = HEAD.unpack_from(extra, pos)
        if pos + HEAD.size + size > len(extra):
            break
        out.append((ident, extra[pos + HEAD.size : pos + HEAD.size + size]))
        pos += HEAD.size + size
    if pos < len(extra):
        out.append((-1, extra[pos:]))
    return out


def unix_mtime(extra: bytes) -> int | None:
    """The mtime in a "UT" field, if there is one."""
    for ident, data in fields(extra):
        if ident == UNIX_TIME and len(data) >= 5 and data[0] & 1:
            return int(struct.unpack_from("<i", data, 1)[0])
    return None


def _ut(data: bytes, when: int) -> bytes:
    slots = (len(data) - 1) // 4
    return data[:1] + struct.pack("<I", when) * slots + data[1 + 4 * slots :]


def _ux_old(data: bytes, when: int) -> bytes:
    if len(data) < 8:
        return data
    return struct.pack("<II", when, when) + bytes(len(data) - 8)


def _ux_new(data: bytes) -> bytes:
    if len(data) < 3 or data[0] != 1:
        return data
    uid_size = data[1]
    if len(data) < 3 + uid_size:
        return data
    gid_size = data[2 + uid_size]
    if len(data) != 3 + uid_size + gid_size:
        return data
    return data[:2] + bytes(uid_size) + bytes([gid_size]) + bytes(gid_size)


def _ntfs(data: bytes, when: int) -> bytes:
    out = bytearray(data)
    pos = 4  # reserved
    filetime = struct.pack("<Q", (when + FILETIME_EPOCH) * 10_000_000)
    while pos + 4 <= len(out):
        tag, size = HEAD.unpack_from(out, pos)
        if tag == 1 and size == 24 and pos + 28 <= len(out):
            out[pos + 4 : pos + 28] = filetime * 3
        pos += 4 + size
    return bytes(out)


def normalise(extra: bytes, when: int) -> bytes:
    """`extra` with every timestamp set to `when` and every uid/gid to 0; same length."""
    if not extra:
        return extra
    out = []
    for ident, data in fields(extra):
        if ident == UNIX_TIME:
            data = _ut(data, when)
        elif ident == INFOZIP_UNIX1:
            data = _ux_old(data, when)
        elif ident == INFOZIP_UNIX2:
            data = bytes(len(data))
        elif ident == INFOZIP_UNIX3:
            data = _ux_new(data)
        elif ident == NTFS:
            data = _ntfs(data, when)
        out.append(data if ident < 0 else HEAD.pack(ident, len(data)) + data)
    return b"".join(out)
