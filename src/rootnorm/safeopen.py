"""Opening names of the walked tree without following links, checked against the inventory.

Every open goes through a directory whose (st_dev, st_ino) matches the walk, itself opened by
name from its parent's fd (down from the root), and every name is opened with O_NOFOLLOW: no
path is resolved, so a name swapped for a symlink after the walk, or a directory moved out of
the root with a symlink left in its place, can never lead outside the root. A name swapped
for a FIFO or a device after the walk is opened without blocking and without becoming the
controlling terminal (O_NONBLOCK, O_NOCTTY), then refused unread: the walk's lstat keeps every
special file it saw from being opened at all.
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict

from rootnorm.inventory import DIR_FLAGS, Entry, Inventory

READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Raced(OSError):
    """The name no longer refers to what the walk saw (changed, replaced or gone)."""


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


def _open_root(inventory: Inventory) -> int:
    """A fd of the root, verified to be the directory the walk started from."""
    return _checked_dir(os.open(inventory.root, DIR_FLAGS), inventory.entries[0])


def _open_dir_in(inventory: Inventory, dir_index: int, parent_fd: int) -> int:
    """A fd of directory `dir_index`, opened by its name from its parent's verified fd (never
    through a symlink) and verified to be the directory the walk listed. Opening by path
    would follow a symlink swapped in for any directory on the way."""
    entry = inventory.entries[dir_index]
    return _checked_dir(os.open(entry.name, DIR_FLAGS, dir_fd=parent_fd), entry)


class DirFds:
    """Verified directory fds, reused while the run moves through the tree. A directory is
    opened from its parent's fd, so an unseen one costs its uncached ancestors too: 32 kept
    make that rare (on Debian, 770 more directory opens than 2,470 opened by path)."""

    def __init__(self, inventory: Inventory, keep: int = 32) -> None:
        self.inventory = inventory
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
        entries = self.inventory.entries
        chain = []
        while dir_index not in self._fds and entries[dir_index].parent >= 0:
            chain.append(dir_index)
            dir_index = entries[dir_index].parent
        fd = self._fds.get(dir_index)
        if fd is None:
            fd = self._kept(dir_index, _open_root(self.inventory))
        for step in reversed(chain):
            fd = self._kept(step, _open_dir_in(self.inventory, step, fd))
        return fd

    def _kept(self, dir_index: int, fd: int) -> int:
        self._fds[dir_index] = fd
        if len(self._fds) > self.keep:
            evicted, evicted_fd = self._fds.popitem(last=False)  # never `fd`: the newest
            os.close(evicted_fd)
            if evicted == self._last:  # a long chain can reach it; its number may be reused
                self._last, self._last_fd = -1, -1
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._last, self._last_fd = -1, -1


def open_file(inventory: Inventory, index: int, dir_fd: int, flags: int = READ_FLAGS) -> int:
    """Open regular file `index` relative to its verified parent `dir_fd`."""
    entry = inventory.entries[index]
    fd = os.open(entry.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not same_inode(st, entry):
            raise Raced(f"{entry.display()} changed since the walk")
        if st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns:
            raise Raced(f"{entry.display()} was modified since the walk")
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file_alone(inventory: Inventory, index: int) -> int:
    """`open_file` for a caller without a directory fd: the directories down to its parent
    are opened and verified for this one open."""
    dirs = DirFds(inventory)
    try:
        return open_file(inventory, index, dirs.get(inventory.entries[index].parent))
    finally:
        dirs.close()


def read_whole(inventory: Inventory, index: int, dir_fd: int | None = None) -> bytes:
    """The content of regular file `index`, read through a verified open; `dir_fd` is its
    verified parent when the caller has it open."""
    if dir_fd is None:
        fd = open_file_alone(inventory, index)
    else:
        fd = open_file(inventory, index, dir_fd)
    try:
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)
