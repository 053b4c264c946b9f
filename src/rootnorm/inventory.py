"""One walk of the tree (lstat only, never following a symlink) and the hard-link index.

The inventory is complete before anything is touched: the progress bar gets a real total, and
every inode's in-tree names are known, so an inode with links outside the root is recognised.
Each directory is listed through a `DirFds` fd (opened name by name from the root, checked to
be the directory its parent's listing saw), so a directory swapped for a symlink or moved out
of the root during the walk does not bring outside files in.
"""

from __future__ import annotations

import errno
import fnmatch
import operator
import os
import re
import stat
from collections.abc import Callable, Sequence
from stat import S_ISDIR
from typing import NamedTuple

from rootnorm import stopping
from rootnorm.dirfds import DirFds
from rootnorm.errors import UsageError
from rootnorm.journal import Evidence, is_temp, journal_mtime

BY_NAME = operator.attrgetter("name")


def shown(rel: bytes) -> str:
    """A root-relative path for people and reports, "./usr/bin/[" ("." for ROOT itself), so
    nobody takes it for a host path; undecodable bytes shown as \\xNN."""
    return "./" + rel.decode("utf-8", "backslashreplace") if rel else "."


class Entry:
    """One name in the tree, with the lstat fields the run needs (kept small: trees are big)."""

    __slots__ = ("dev", "ino", "mode", "mtime_ns", "nlink", "parent", "rel", "size")

    def __init__(self, rel: bytes, parent: int, st: os.stat_result, shared: dict[int, int]) -> None:
        self.rel = rel  # root-relative path, b"" for the root itself
        self.parent = parent  # index of the parent directory's entry, -1 for the root
        # Values most entries have in common are kept once (`shared`): one int object each
        # instead of one per entry, tens of MB in a 300k-entry tree.
        self.mode = shared.setdefault(st.st_mode, st.st_mode)
        self.dev = shared.setdefault(st.st_dev, st.st_dev)
        self.nlink = shared.setdefault(st.st_nlink, st.st_nlink)
        self.ino = st.st_ino
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns

    @property
    def name(self) -> bytes:
        """The last component of the path (derived, not stored: trees are big)."""
        return self.rel[self.rel.rfind(b"/") + 1 :]

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def linkable(self) -> bool:
        """Can have hard links: anything but a directory (and a forgotten entry, mode 0)."""
        return self.mode != 0 and not stat.S_ISDIR(self.mode)

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def display(self) -> str:
        """Root-relative path for messages and reports; undecodable bytes shown as \\xNN."""
        return shown(self.rel)


class WalkProblem(NamedTuple):
    rel: bytes
    why: str


class Inventory:
    """Every entry the walk saw, how to find it, and which names share an inode."""

    def __init__(
        self,
        root: bytes,
        entries: list[Entry],
        links: dict[tuple[int, int], list[int]],
        by_rel: dict[bytes, int],
        problems: list[WalkProblem],
        excluded: int = 0,
        mounts_skipped: int = 0,
        leftovers: list[tuple[bytes, int]] | None = None,
        journals: list[tuple[bytes, int]] | None = None,
        unread_inodes: frozenset[tuple[int, int]] = frozenset(),
    ) -> None:
        self.root = root  # absolute path of the root, as bytes
        self.entries = entries  # pre-order by directory: each directory's children contiguous
        self.links = links  # inode -> indices of its names, for nlink > 1 only
        self.by_rel = by_rel  # root-relative path -> index
        self.problems = problems
        self.excluded = excluded
        self.mounts_skipped = mounts_skipped
        # rootnorm's own temp files left by a stopped run: (path, parent directory index)
        self.leftovers = leftovers or []
        # journals of stopped runs: (path, parent directory index)
        self.journals = journals or []
        # inodes of names the walk listed but could not stat: a hard-link group may include
        # them, so an inode seemingly linked outside the root may not be
        self.unread_inodes = unread_inodes
        self.evidence = Evidence()  # what unfinished runs journaled (see pipeline.recover)

    def names_of(self, index: int) -> Sequence[int]:
        entry = self.entries[index]
        if entry.nlink > 1 and entry.linkable:
            return self.links[entry.key]
        return (index,)

    def is_primary(self, index: int) -> bool:
        """True for the first name of each inode: per-inode work is done once, through it."""
        entry = self.entries[index]
        return entry.nlink == 1 or not entry.linkable or self.links[entry.key][0] == index

    def shared_outside(self, index: int) -> bool:
        """True when the inode has links the walk did not see: changes need a new inode.
        Never for a directory, whose link count is its subdirectories."""
        entry = self.entries[index]
        return entry.linkable and entry.nlink > len(self.names_of(index))

    def uncertain(self, index: int) -> bool:
        """True when the inode's other names may include one the walk could not stat: the
        group is then left as it was (writing a new inode for the names seen would split it)."""
        entry = self.entries[index]
        return entry.key in self.unread_inodes and self.shared_outside(index)

    def lookup(self, rel: bytes) -> Entry | None:
        found = self.by_rel.get(rel)
        return None if found is None else self.entries[found]

    def resolve(self, rel: bytes, hops: int = 40) -> int | None:
        """The entry `rel` leads to, following symlinks as if the root were `/`.

        None when the path dangles, loops, or reaches something the walk did not list (an
        excluded path or another file system): then nothing in the tree decides its metadata.
        """
        direct = self.by_rel.get(rel)
        if direct is not None and not self.entries[direct].is_symlink:
            return direct  # the common case: no link on the way (parents are directories)
        pending = [part for part in rel.split(b"/") if part]
        done: list[bytes] = []
        while pending:
            part = pending.pop(0)
            if part == b".":
                continue
            if part == b"..":
                if done:
                    done.pop()
                continue
            candidate = b"/".join([*done, part])
            index = self.by_rel.get(candidate)
            if index is None:
                return None
            if not self.entries[index].is_symlink:
                done.append(part)
                continue
            hops -= 1
            if hops < 0:
                return None
            try:
                target = os.readlink(os.path.join(self.root, candidate))
            except OSError:
                return None
            if target.startswith(b"/"):
                done = []
            pending[:0] = [p for p in target.split(b"/") if p]
        return self.by_rel.get(b"/".join(done))

    def forget(self, index: int, names: Sequence[int] | None = None) -> None:
        """Every name of `index` was unlinked: later passes must not look at them.

        `names` (all names of the inode, known before the unlink) is required when the change
        was made elsewhere (a worker): the old inode number may meanwhile belong to a new file.
        """
        names = list(self.names_of(index)) if names is None else list(names)
        if self.links.get(self.entries[index].key) == names:
            del self.links[self.entries[index].key]
        for name_index in names:
            self.entries[name_index].mode = 0  # no file type: skipped from now on

    def update_inode(
        self, index: int, dev: int, ino: int, size: int, names: Sequence[int] | None = None
    ) -> None:
        """Record that every in-tree name of `index` now refers to a new inode (see `forget`)."""
        names = list(self.names_of(index)) if names is None else list(names)
        old_key = self.entries[index].key
        for name_index in names:
            entry = self.entries[name_index]
            entry.dev, entry.ino, entry.size, entry.nlink = dev, ino, size, len(names)
        if self.links.get(old_key) == names:  # not if the number was reused for another file
            del self.links[old_key]
        if len(names) > 1:
            self.links[(dev, ino)] = names


def _exclusion(patterns: Sequence[str]) -> Callable[[bytes], object] | None:
    """One matcher for all patterns (a match is truthy); "*" also matches "/" (fnmatch
    semantics). None when there is nothing to exclude; a set lookup when no pattern has a
    wildcard (the built-in profiles: it runs once per entry)."""
    if not patterns:
        return None
    if not any(char in pattern for pattern in patterns for char in "*?["):
        return frozenset(os.fsencode(pattern) for pattern in patterns).__contains__
    return re.compile(os.fsencode("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))).match


def _mount_points(root: bytes) -> set[bytes]:
    """Root-relative paths of every mount point below `root`, bind mounts included.

    A bind mount from the same file system has the same st_dev, so only the kernel's mount
    table shows it (a container's /etc/resolv.conf, for example). Without /proc: none.
    """
    real_root = os.path.realpath(root)
    prefix = real_root.rstrip(b"/") + b"/"
    found: set[bytes] = set()
    try:
        with open("/proc/self/mountinfo", "rb") as table:
            lines = table.read().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split(b" ")
        if len(fields) < 5:
            continue
        point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), fields[4])
        if point.startswith(prefix):
            found.add(point[len(prefix) :])
    return found


def walk(root: str, exclude: Sequence[str] = (), cross_mounts: bool = False) -> Inventory:
    """Walk `root` once. Raises UsageError when the root itself is unusable."""
    root_b = os.path.abspath(os.fsencode(root))
    try:
        root_st = os.lstat(root_b)
    except OSError as exc:
        raise UsageError(f"ROOT {root!r}: {exc.strerror}") from None
    if stat.S_ISLNK(root_st.st_mode):
        raise UsageError(
            f"ROOT {root!r} is a symbolic link; rootnorm never follows links, "
            f"pass the real directory ({os.path.realpath(root)})"
        )
    if not stat.S_ISDIR(root_st.st_mode):
        raise UsageError(f"ROOT {root!r} is not a directory")

    shared: dict[int, int] = {}
    entries = [Entry(b"", -1, root_st, shared)]
    by_rel = {b"": 0}
    links: dict[tuple[int, int], list[int]] = {}
    problems: list[WalkProblem] = []
    leftovers: list[tuple[bytes, int]] = []
    unread: set[tuple[int, int]] = set()
    journals: list[tuple[bytes, int]] = []
    excluded = mounts = 0
    stack = [0]
    root_dev = root_st.st_dev
    excluded_by = _exclusion(exclude)
    mount_points = set() if cross_mounts else _mount_points(root_b)
    fsencode = os.fsencode
    with DirFds(root_b, entries) as dirs:
        while stack:
            stopping.check()
            dir_index = stack.pop()
            directory = entries[dir_index]
            prefix = directory.rel + b"/" if directory.rel else b""
            try:
                # entries of scandir(fd) lstat relative to the fd: no other directory is opened
                # (which could close it) until every child below has been asked
                with os.scandir(dirs.get(dir_index)) as it:
                    children = sorted(it, key=BY_NAME)  # as str: the same order every run
            except OSError as exc:
                why = exc.strerror or str(exc)
                problems.append(WalkProblem(directory.rel, f"cannot list: {why}"))
                continue
            subdirs = []
            for child in children:
                name = fsencode(child.name)
                rel = prefix + name
                if excluded_by is not None and excluded_by(rel):
                    excluded += 1
                    continue
                if b".rootnorm-" in name and _own_file(child, name):
                    mine = journals if journal_mtime(name) is not None else leftovers
                    mine.append((rel, dir_index))
                    continue
                try:
                    st = child.stat(follow_symlinks=False)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        problems.append(WalkProblem(rel, f"cannot stat: {exc.strerror}"))
                        unread.add((directory.dev, child.inode()))
                    continue
                if (st.st_dev != root_dev or rel in mount_points) and not cross_mounts:
                    mounts += 1
                    continue
                index = len(entries)
                entry = Entry(rel, dir_index, st, shared)
                entries.append(entry)
                by_rel[rel] = index
                if S_ISDIR(st.st_mode):
                    subdirs.append(index)
                elif st.st_nlink > 1:  # symlinks and device nodes can be hard-linked too
                    links.setdefault((entry.dev, entry.ino), []).append(index)
            stack.extend(reversed(subdirs))
    return Inventory(
        root_b,
        entries,
        links,
        by_rel,
        problems,
        excluded,
        mounts,
        leftovers,
        journals,
        frozenset(unread),
    )


def _own_file(child: os.DirEntry[str], name: bytes) -> bool:
    """A journal or a temp file of rootnorm's, never a directory."""
    own = is_temp(name) or journal_mtime(name) is not None
    try:
        return own and not child.is_dir(follow_symlinks=False)
    except OSError:
        return False
