"""/etc/shadow: the day of each account's last password change (field 3), clamped.

A line is `name:password:lastchg:min:max:warn:inactive:expire:reserved` (shadow(5)); lastchg
counts days since 1970-01-01, and useradd, chpasswd and every package's adduser write today's
date there, so two builds differ. An empty field means "no aging" and 0 means "change the
password at next login": neither is ever changed. /etc/gshadow (`name:password:admins:members`,
gshadow(5)) has no date.
"""

from __future__ import annotations

from typing import NamedTuple

DAY = 86400
FIELDS = 9


class NotShadow(ValueError):
    """A line is not a shadow(5) entry: the file is left as it is."""


class Clamped(NamedTuple):
    data: bytes  # the whole file after the change
    lines: int  # how many lines changed
    dates: tuple[int, ...]  # the distinct dates (days) that were later than the limit


def last_changes(data: bytes) -> list[tuple[int, int, int]]:
    """(start, end, days) of every non-empty lastchg field; raises NotShadow."""
    found: list[tuple[int, int, int]] = []
    pos = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        start_of_line = pos
        pos += len(line) + 1
        if not line:
            continue
        fields = line.split(b":")
        if len(fields) != FIELDS:
            raise NotShadow(f"line {number} has {len(fields)} fields, not {FIELDS}")
        field = fields[2]
        if not field:
            continue
        if not field.isdigit() or len(field) > 9:
            raise NotShadow(f"line {number}: last change {field[:12]!r} is not a day number")
        start = start_of_line + len(fields[0]) + len(fields[1]) + 2
        found.append((start, start + len(field), int(field)))
    return found


def clamp(data: bytes, limit_days: int) -> Clamped:
    """Every lastchg later than `limit_days` (at least 1) becomes `limit_days`; raises
    NotShadow."""
    if limit_days < 1:
        raise ValueError("a last change of day 0 forces a password change at next login")
    out: list[bytes] = []
    pos = changed = 0
    dates: set[int] = set()
    for start, end, days in last_changes(data):
        if days == 0 or days <= limit_days:
            continue
        out += (data[pos:start], b"%d" % limit_days)
        pos = end
        changed += 1
        dates.add(days)
    out.append(data[pos:])
    return Clamped(b"".join(out), changed, tuple(sorted(dates)))
