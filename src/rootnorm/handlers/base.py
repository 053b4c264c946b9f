"""The contract every handler follows.

A handler has a name, a one-line summary (shown by `--list-handlers` and the docs), a schema of
its profile options, a cheap `wants` filter on the walked entry, and `inspect`, which looks at an
open file and returns a decision (see `rootnorm.decisions`). It never writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import BinaryIO, ClassVar, NamedTuple

from rootnorm.clock import Clock
from rootnorm.decisions import Decision
from rootnorm.inventory import Entry, Inventory
from rootnorm.safeopen import read_whole

HEAD_SIZE = 4096


class Option(NamedTuple):
    """One profile option of a handler; its type is the type of `default`."""

    name: str
    default: bool | int | str | tuple[str, ...]
    help: str
    choices: tuple[str, ...] = ()


def name_key(path: bytes) -> bytes:
    """What the pipeline's prefilter looks a file up by: the last extension of its name
    (b".gz"), or the whole name when it has no dot (b"machine-id"); lower case. `path` is a
    name or a root-relative path."""
    slash = path.rfind(b"/")
    dot = path.rfind(b".")
    return (path[dot:] if dot > slash else path[slash + 1 :]).lower()


class HandlerRefused(Exception):
    """A handler cannot run with these settings (raised from __init__; the run exits 2)."""


class Settings(NamedTuple):
    """What every handler may know about the run."""

    clock: Clock
    mtimes_final: bool  # the mtime handler is in the pipeline, so the clock decides final mtimes
    source_date_epoch: int | None
    build_path_prefixes: tuple[str, ...] = ()  # --build-path-prefix: more build roots to audit

    def final_mtime_ns(self, entry: Entry) -> int:
        """The mtime `entry` will have when the run is done."""
        return self.clock.final_ns(entry.mtime_ns) if self.mtimes_final else entry.mtime_ns

    def target_seconds(self, seconds: int) -> int:
        """The value a whole-second timestamp stored inside a file (gzip, zip, ar) gets."""
        return self.clock.final_seconds(seconds)


class Item:
    """One regular file (one inode) being inspected: its entry, all its names, an open fd."""

    __slots__ = ("_dir_fd_of", "_head", "fd", "index", "inventory")

    def __init__(
        self,
        inventory: Inventory,
        index: int,
        fd: int,
        dir_fd_of: Callable[[int], int] | None = None,
    ) -> None:
        self.inventory = inventory
        self.index = index
        self.fd = fd
        self._dir_fd_of = dir_fd_of  # the run's cache of verified directory fds, if any
        self._head: bytes | None = None

    @property
    def entry(self) -> Entry:
        return self.inventory.entries[self.index]

    def head(self) -> bytes:
        """The first HEAD_SIZE bytes (fewer for a short file), read once for all handlers."""
        if self._head is None:
            self._head = os.pread(self.fd, HEAD_SIZE, 0)
        return self._head

    def pread(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def read_other(self, index: int) -> bytes:
        """The whole content of another regular file of the tree (a pyc's source), read
        through a verified open."""
        parent = self.inventory.entries[index].parent
        dir_fd = None if self._dir_fd_of is None else self._dir_fd_of(parent)
        return read_whole(self.inventory, index, dir_fd)

    def reader(self) -> BinaryIO:
        """A buffered reader over the file from offset 0; closing it leaves `fd` open."""
        stream = open(self.fd, "rb", closefd=False)  # noqa: SIM115 - caller closes
        stream.seek(0)
        return stream


class Handler:
    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    whole_tree: ClassVar[bool] = False  # runs once over every entry after the content handlers
    uses_clock: ClassVar[bool] = False  # applies the mtime policy (so may need SOURCE_DATE_EPOCH)
    # Its changes are mostly a Patch (a few header bytes): a file whose mtime changes anyway
    # is then opened read-write at once, saving a second open for the write.
    patches_in_place: ClassVar[bool] = False

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        self.settings = settings
        self.opts = {opt.name: options.get(opt.name, opt.default) for opt in self.options}

    def name_keys(self) -> tuple[bytes, ...] | None:
        """Every `name_key` of a file this handler can want, so the pipeline asks `wants` only
        about those; None to be asked about every file."""
        return None

    def wants(self, entry: Entry) -> bool:
        """Cheap filter on the walked entry (name, size); the file is not open yet."""
        raise NotImplementedError

    def costly(self, inventory: Inventory, index: int) -> bool:
        """Whether file `index` goes to a --jobs worker: work beyond an open and a small read
        (any archive, an ELF file, a source hashed in pure Python). The parent does the light
        files (pyc headers) meanwhile: handing one over, and its record back, costs more than
        its work, and a forked worker pays for every page it touches."""
        return False

    def anchor(self, inventory: Inventory, index: int) -> int | None:
        """The entry file `index`'s validity rests on, if the name alone tells (a pyc's
        source): it keeps its mtime when the file cannot be read (see Patch.anchor)."""
        return None

    def inspect(self, item: Item) -> Decision:
        raise NotImplementedError
