"""Which files of a tree a process opens, and which it opens for writing: the kernel's inotify
(through ctypes), watching every directory of the tree. A file closed after an open for writing
gives IN_CLOSE_WRITE even when nothing was written: that open alone copies it up on overlayfs."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

IN_CLOSE_WRITE = 0x008
IN_CLOSE_NOWRITE = 0x010
IN_OPEN = 0x020
EVERY = IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
IN_NONBLOCK = os.O_NONBLOCK
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len


@dataclass
class Opens:
    # root-relative path -> events. inotify merges an event with an identical one queued just
    # before it, so two opens in a row may show as one; the closes tell the opens apart.
    opened: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)  # closes after an open for writing
    read: Counter[str] = field(default_factory=Counter)  # closes after a read-only open


@contextmanager
def watching(root: Path) -> Iterator[Opens]:
    """Record the opens of the files directly in each directory below `root` (created ones
    included when their directory existed at the start)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = libc.inotify_init1(IN_NONBLOCK)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    watched: dict[int, str] = {}
    try:
        for directory, _, _ in os.walk(root):
            wd = libc.inotify_add_watch(fd, os.fsencode(directory), EVERY)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")
            watched[wd] = os.path.relpath(directory, root)
        found = Opens()
        yield found
        _collect(fd, watched, found)
    finally:
        os.close(fd)


def _collect(fd: int, watched: dict[int, str], found: Opens) -> None:
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        pos = 0
        while pos < len(data):
            wd, mask, _, size = EVENT.unpack_from(data, pos)
            name = data[pos + EVENT.size : pos + EVENT.size + size].rstrip(b"\0").decode()
            pos += EVENT.size + size
            if not name:
                continue  # the directory itself
            path = os.path.normpath(os.path.join(watched[wd], name))
            if mask & IN_OPEN:
                found.opened[path] += 1
            if mask & IN_CLOSE_WRITE:
                found.written[path] += 1
            if mask & IN_CLOSE_NOWRITE:
                found.read[path] += 1
