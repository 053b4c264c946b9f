"""gettext catalogues (.mo, .gmo): the header entry's POT-Creation-Date and PO-Revision-Date.

The header is the translation of the empty msgid, which sorts first in the table of original
strings (libintl binary-searches that table, so it is sorted in every catalogue it can use).
A date is rewritten in UTC in the shape it was written in: gettext's own
`YYYY-MM-DD HH:MM+ZZZZ` in every catalogue made from a PO file that gettext's tools wrote.
The length never changes, so no offset moves, and the hash table, which depends on the msgids
only, stays valid. Every other header line, and a value that is not a date, is kept.

Because only date digits change, the new bytes can be written in place: a write cut short by
a crash still leaves a valid catalogue (with a mixed-up date the next run sets again).
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, NamedTuple

from rootnorm.archives.plan import CHUNK, Copy, Plan, Unsupported, read_exact

LITTLE, BIG = b"\xde\x12\x04\x95", b"\x95\x04\x12\xde"  # 0x950412de in each byte order
MAX_HEADER = 64 << 10  # a header entry is a few hundred bytes; more is not a catalogue
FIELD = re.compile(rb"^(POT-Creation-Date|PO-Revision-Date):[ \t]*([^\n]*)$", re.MULTILINE)
DATE = re.compile(rb"(\d{4})-(\d\d)-(\d\d)([ T])(\d\d):(\d\d)(:\d\d)?( ?)([+-])(\d\d)(:?)(\d\d)")


def _instant(m: re.Match[bytes]) -> datetime:
    """The time a DATE match names; ValueError when it is not a real date."""
    offset = timedelta(hours=int(m[10]), minutes=int(m[12]))
    zone = timezone(-offset if m[9] == b"-" else offset)
    second = int(m[7][1:]) if m[7] else 0
    return datetime(int(m[1]), int(m[2]), int(m[3]), int(m[5]), int(m[6]), second, tzinfo=zone)


def _new_value(value: bytes, target: Callable[[int], int]) -> bytes | None:
    """`value` with its time set by `target`, in UTC and in its own shape; None to keep it."""
    m = DATE.fullmatch(value)
    if m is None:
        return None
    try:
        old = int(_instant(m).timestamp())
        new = target(old)
        if new == old:
            return None
        utc = datetime.fromtimestamp(new, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    text = f"{utc:%Y-%m-%d}{m[4].decode()}{utc:%H:%M}"
    if m[7]:
        text += f":{utc:%S}"
    text += f"{m[8].decode()}+00{m[11].decode()}00"
    # The same text when the shape has no seconds and only they differ (set, at 22:13:20)
    return text.encode() if len(text) == len(value) and text.encode() != value else None


def _check_strings(src: BinaryIO, table: int, count: int, size: int, order: str) -> None:
    """Every (length, offset) descriptor of a string table points inside the file."""
    done = 0
    while done < count:
        n = min(count - done, CHUNK // 8)
        words = struct.unpack(f"{order}{2 * n}I", read_exact(src, table + 8 * done, 8 * n))
        if max(map(operator.add, words[::2], words[1::2])) >= size:  # each string's NUL
            ends = map(operator.add, words[::2], words[1::2])
            first = next(i for i, end in enumerate(ends) if end >= size)
            raise Unsupported(f"string {done + first} of the table at {table} is outside")
        done += n


def _layout(src: BinaryIO, size: int) -> tuple[str, int, int, int]:
    """(byte order, number of strings, offset of originals, offset of translations) of a
    catalogue whose tables all lie inside the file; Unsupported otherwise."""
    head = read_exact(src, 0, 28)
    order = {LITTLE: "<", BIG: ">"}.get(head[:4])
    if order is None:
        raise Unsupported("no .mo magic")
    revision, count, originals, translations, hash_size, hash_at = struct.unpack(
        f"{order}6I", head[4:]
    )
    # Major 1 marks `%I` (locale digits) in system-dependent strings; the layout is the same.
    major, minor = revision >> 16, revision & 0xFFFF
    if major > 1 or minor > 1:
        raise Unsupported(f"format revision {major}.{minor} is not 0.0, 0.1, 1.0 or 1.1")
    if originals + 8 * count > size or translations + 8 * count > size:
        raise Unsupported(f"string tables of {count} entries run past the end")
    if hash_size and hash_at + 4 * hash_size > size:
        raise Unsupported(f"hash table of {hash_size} entries runs past the end")
    if minor == 1:  # system-dependent strings (<PRIu64> and the like): five more words
        segments, seg_at, sysdeps, sys_orig, sys_trans = struct.unpack(
            f"{order}5I", read_exact(src, 28, 20)
        )
        if seg_at + 8 * segments > size or max(sys_orig, sys_trans) + 4 * sysdeps > size:
            raise Unsupported("system-dependent string tables run past the end")
    return order, count, originals, translations


class Edit(NamedTuple):
    """The header's new bytes from `offset` on: the dates set, the bytes between them kept."""

    offset: int
    data: bytes
    fields: tuple[str, ...]  # the names of the fields that change, sorted


def edit(src: BinaryIO, size: int, target: Callable[[int], int]) -> Edit | None:
    """The change that sets the header's dates by `target`, or None when nothing changes;
    raises Unsupported for anything but a well-formed catalogue."""
    order, count, originals, translations = _layout(src, size)
    if count == 0:
        return None
    entry = struct.Struct(f"{order}2I")
    original_length, _ = entry.unpack(read_exact(src, originals, 8))
    if original_length != 0:
        return None  # no header entry
    length, at = entry.unpack(read_exact(src, translations, 8))
    if length > MAX_HEADER:
        raise Unsupported(f"header entry of {length} bytes")
    header = read_exact(src, at, length + 1)
    if header[-1:] != b"\0":
        raise Unsupported("header entry is not NUL-terminated")
    spans = []
    for field in FIELD.finditer(header, 0, length):
        new = _new_value(field[2], target)
        if new is not None:
            spans.append((field.start(2), new, field[1].decode()))
    if not spans:
        return None
    # Only now is the rest checked: a catalogue that needs nothing costs a few small reads.
    _check_strings(src, originals, count, size, order)
    _check_strings(src, translations, count, size, order)
    first, last = spans[0][0], spans[-1][0] + len(spans[-1][1])
    data = bytearray(header[first:last])
    for start, new, _ in spans:
        data[start - first : start - first + len(new)] = new
    return Edit(at + first, bytes(data), tuple(sorted({name for _, _, name in spans})))


def plan_of(change: Edit, size: int) -> Plan:
    result = Plan()
    result.add(Copy(0, change.offset))
    result.add(change.data)
    end = change.offset + len(change.data)
    result.add(Copy(end, size - end))
    result.changes = set(change.fields)
    return result


def plan(src: BinaryIO, size: int, target: Callable[[int], int]) -> Plan | None:
    """`edit` as a plan of the whole file (what a fuzz target or a rewrite uses)."""
    change = edit(src, size, target)
    return None if change is None else plan_of(change, size)
