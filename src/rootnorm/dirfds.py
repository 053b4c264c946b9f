"""Directory fds of the walked tree, opened name by name from the root and checked against it.

No path is ever resolved: each directory is opened by its name from its parent's fd with
O_NOFOLLOW, and must be the inode the walk recorded. A symlink swapped in for any directory on
the way, or a directory moved out of the root with a symlink left in its place, is refused.
The walk lists the tree through these fds, and the writer and `safeopen` reach it through them.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rootnorm.inventory import Entry

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Raced(OSError):
    """The name no longer refers to what the walk saw (changed, replaced or gone)."""


def close_quietly(fd: int) -> None:
    """Close an fd whose data, if any, is already where it must be (a directory, a file read
    or fsynced): an error of close (EIO) cannot mean a lost change, so it is not one."""
    with contextlib.suppress(OSError):
        os.close(fd)


def same_inode(st: os.stat_result, entry: Entry) -> bool:
    return st.st_dev == entry.dev and st.st_ino == entry.ino


def _checked_dir(fd: int, entry: Entry) -> int:
    try:
        if not same_inode(os.fstat(fd), entry):
            raise Raced(f"directory {entry.display()} changed since the walk")
    except BaseException:
        os.close(fd)
        raise
    return fd


class DirFds:
    """Verified directory fds, reused while the run moves through the tree. A directory is
    opened from its parent's fd, so an unseen one costs its uncached ancestors too: 32 kept
    make that rare. Use as a context manager, or call `close`."""

    def __init__(self, root: bytes, entries: Sequence[Entry], keep: int = 32) -> None:
        self.root = root  # absolute path of the root
        self.entries = entries  # the walk's entries (the walk itself passes its growing list)
        self.keep = keep
        self._fds: OrderedDict[int, int] = OrderedDict()
        self._last, self._last_fd = -1, -1

    def get(self, dir_index: int) -> int:
        if dir_index == self._last:
            return self._last_fd  # the run moves through one directory at a time
        fd = self._fds.get(dir_index)
        if fd is not None:
            self._fds.move_to_end(dir_index)
        else:
            fd = self._open(dir_index)
        self._last, self._last_fd = dir_index, fd
        return fd

    def _open(self, dir_index: int) -> int:
        """Open `dir_index` by name from its nearest open ancestor (or the root), each
        directory on the way opened the same way and kept: no path is resolved, so a symlink
        swapped in for any of them is never followed."""
        entries = self.entries
        chain = []
        while dir_index not in self._fds and entries[dir_index].parent >= 0:
            chain.append(dir_index)
            dir_index = entries[dir_index].parent
        fd = self._fds.get(dir_index)
        if fd is None:  # the root, by its path: the one path rootnorm resolves
            fd = self._kept(dir_index, _checked_dir(os.open(self.root, DIR_FLAGS), entries[0]))
        for step in reversed(chain):
            entry = entries[step]
            fd = self._kept(step, _checked_dir(os.open(entry.name, DIR_FLAGS, dir_fd=fd), entry))
        return fd

    def _kept(self, dir_index: int, fd: int) -> int:
        self._fds[dir_index] = fd
        if len(self._fds) > self.keep:
            evicted, evicted_fd = self._fds.popitem(last=False)  # never `fd`: the newest
            close_quietly(evicted_fd)
            if evicted == self._last:  # a long chain can reach it; its number may be reused
                self._last, self._last_fd = -1, -1
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            close_quietly(fd)
        self._fds.clear()
        self._last, self._last_fd = -1, -1

    def __enter__(self) -> DirFds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
