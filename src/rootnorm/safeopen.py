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


def open_root(inventory: Inventory) -> int:
    """A fd of the root, verified to be the directory the walk started from."""
    return _checked_dir(os.open(inventory.root, DIR_FLAGS), inventory.entries[0])


def open_dir_in(inventory: Inventory, dir_index: int, parent_fd: int) -> int:
    """A fd of directory `dir_index`, opened by its name from its parent's verified fd (never
    through a symlink) and verified to be the directory the walk listed. Opening by path
    would follow a symlink swapped in for any directory on the way."""
    entry = inventory.entries[dir_index]
    return _checked_dir(os.open(entry.name, DIR_FLAGS, dir_fd=parent_fd), entry)


def open_dir(inventory: Inventory, dir_index: int) -> int:
    """`open_dir_in` for a caller without its parent's fd: every directory from the root
    down is opened and verified in turn."""
    chain = []
    while inventory.entries[dir_index].parent >= 0:
        chain.append(dir_index)
        dir_index = inventory.entries[dir_index].parent
    fd = open_root(inventory)
    for step in reversed(chain):
        try:
            child = open_dir_in(inventory, step, fd)
        finally:
            os.close(fd)
        fd = child
    return fd


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
    """`open_file` for a caller without a directory fd: the parent is opened and verified for
    this one open."""
    dir_fd = open_dir(inventory, inventory.entries[index].parent)
    try:
        return open_file(inventory, index, dir_fd)
    finally:
        os.close(dir_fd)


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
