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

from rootnorm.dirfds import DirFds, Raced, same_inode
from rootnorm.inventory import Inventory

READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
ALWAYS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY  # added to whatever flags a caller gives


def open_file(inventory: Inventory, index: int, dir_fd: int, flags: int = READ_FLAGS) -> int:
    """Open regular file `index` relative to its verified parent `dir_fd`."""
    entry = inventory.entries[index]
    fd = os.open(entry.name, flags | ALWAYS, dir_fd=dir_fd)
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
    with DirFds(inventory.root, inventory.entries) as dirs:
        return open_file(inventory, index, dirs.get(inventory.entries[index].parent))


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
