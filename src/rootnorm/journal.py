"""The run's write-ahead journal: the evidence a killed run's successor needs to converge.

A run can be stopped between two changes that belong together: a pyc header patched to its
source's final mtime before the source gets that mtime, a directory's mtime moved by a temp
file before it is restored, a hard-link group half moved to a new inode. What each decision
rested on is appended here *before* the change, so the next run finishes the job instead of
reading rootnorm's own half-done state as tampering.

The journal is one file, `.rootnorm-journal.<its directory's mtime in ns>`: its name holds its
directory's original mtime, because creating it is what first changes that mtime. It lives in
the root, unless the mtime policy is a clamp and the root is older than SOURCE_DATE_EPOCH: then
in the first directory that is not (removing the journal changes its directory's mtime once
more, and only there does the clamp give the same final mtime whatever a stopped run left).
It is made only when the run writes something, kept while a run has not finished everything,
and removed by the first run that does. Records are text lines (paths in hex), one `write`
each with O_APPEND, so forked workers can share it:

    M <path> <ino> <mtime_ns>                    original mtime before rootnorm changed it
    V <path> <anchor path> <mtime_ns> <size>     `path` was valid against its anchor (a pyc's
                                                 source) as it was then, and was updated
    L <old ino> <new ino> <path> <path>...       these names were being moved to the new inode
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

PREFIX = b".rootnorm-journal."
_NAME = re.compile(rb"\.rootnorm-journal\.([0-9]{1,20})")
# writer._temp_name: "." + up to 200 bytes of the name + "." + 8 hex digits + ".rootnorm-tmp"
_TEMP = re.compile(rb"\..{1,200}\.[0-9a-f]{8}\.rootnorm-tmp", re.DOTALL)
MAX_BYTES = 256 << 20  # a journal larger than this was not written by rootnorm
FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def journal_mtime(name: bytes) -> int | None:
    """The root's original mtime if `name` is a journal's name, else None."""
    match = _NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def is_temp(name: bytes) -> bool:
    """Whether `name` is one of rootnorm's temp names (writer._temp_name)."""
    return _TEMP.fullmatch(name) is not None


class Vouch(NamedTuple):
    anchor: bytes
    mtime_ns: int
    size: int


class Evidence:
    """What earlier, unfinished runs recorded; the first record of a path wins."""

    def __init__(self) -> None:
        self.mtimes: dict[bytes, tuple[int, int]] = {}  # path -> (ino, original mtime)
        self.vouches: dict[bytes, Vouch] = {}
        self.groups: list[tuple[int, int, list[bytes]]] = []  # old ino, new ino, names
        self.malformed = 0

    def vouched(self, rel: bytes, anchor_rel: bytes, mtime_ns: int, size: int) -> bool:
        """Whether an unfinished run updated `rel` while it was valid against the anchor as
        the anchor is now."""
        return self.vouches.get(rel) == Vouch(anchor_rel, mtime_ns, size)

    def add_line(self, line: bytes) -> None:
        fields = line.split(b" ")
        try:
            kind = fields[0]
            if kind == b"M" and len(fields) == 4:
                rel = bytes.fromhex(fields[1].decode())
                self.mtimes.setdefault(rel, (int(fields[2]), int(fields[3])))
            elif kind == b"V" and len(fields) == 5:
                rel = bytes.fromhex(fields[1].decode())
                anchor = bytes.fromhex(fields[2].decode())
                self.vouches.setdefault(rel, Vouch(anchor, int(fields[3]), int(fields[4])))
            elif kind == b"L" and len(fields) >= 5:
                names = [bytes.fromhex(field.decode()) for field in fields[3:]]
                self.groups.append((int(fields[1]), int(fields[2]), names))
            else:
                self.malformed += 1
        except ValueError:  # includes UnicodeDecodeError
            self.malformed += 1


def read(dir_fd: int, name: bytes, evidence: Evidence) -> None:
    """Add the records of the journal `name` in the directory `dir_fd` (opened without
    following links) to `evidence`."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        data = os.read(fd, MAX_BYTES)
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    if lines[-1]:  # cut off mid-line: the run was stopped within a write
        evidence.malformed += 1
    for line in lines[:-1]:
        evidence.add_line(line)


def _hex(rel: bytes) -> bytes:
    return rel.hex().encode()


class Journal:
    """The journal of this run (and of the unfinished run before it, whose file it appends
    to). Opened on the first record; forked workers inherit the object and open their own fd."""

    def __init__(self, name: bytes, dir_index: int) -> None:
        self.name = name  # in directory `dir_index` of the inventory
        self.dir_index = dir_index
        self._fd = -1
        self._pid = -1

    @classmethod
    def new(cls, dir_index: int, dir_mtime_ns: int) -> Journal:
        return cls(PREFIX + b"%d" % dir_mtime_ns, dir_index)

    def open(self, dir_fd: int) -> bool:
        """Make sure this process has the journal open; True when this call created the
        file (which changed its directory's mtime: the caller restores it)."""
        if self._fd >= 0 and self._pid == os.getpid():
            return False
        try:
            self._fd = os.open(self.name, FLAGS | os.O_EXCL, 0o600, dir_fd=dir_fd)
            created = True
        except FileExistsError:
            self._fd = os.open(self.name, FLAGS, 0o600, dir_fd=dir_fd)
            created = False
        self._pid = os.getpid()
        return created

    def mtime(self, rel: bytes, ino: int, mtime_ns: int) -> bytes:
        return b"M %s %d %d\n" % (_hex(rel), ino, mtime_ns)

    def vouch(self, rel: bytes, anchor: bytes, mtime_ns: int, size: int) -> bytes:
        return b"V %s %s %d %d\n" % (_hex(rel), _hex(anchor), mtime_ns, size)

    def group(self, old_ino: int, new_ino: int, names: list[bytes]) -> bytes:
        return b"L %d %d %s\n" % (old_ino, new_ino, b" ".join(map(_hex, names)))

    def append(self, records: bytes) -> None:
        """One write of whole records; raises OSError (ENOSPC, EIO, ...) before the change
        they announce is made, so that change is then not made either."""
        if os.write(self._fd, records) != len(records):
            raise OSError(28, "short write to the journal")

    def close(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1
