"""What a handler can decide about a file. Handlers only decide; `writer` applies.

A decision is plain data, so `--check` costs nothing extra: the pipeline reports the decision
instead of applying it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import BinaryIO, NamedTuple, Union


class Outcome(str, Enum):
    CHANGED = "changed"  # bytes or mtime were (or, under --check, would be) changed
    REMOVED = "removed"  # the file was (or would be) deleted, e.g. a stale pyc
    STALE = "stale"  # a cache that no longer matches its source; left as it is
    UNSUPPORTED = "unsupported"  # looks like a format the handler knows but is not; untouched
    SKIPPED = "skipped"  # nothing to do by design (sourceless pyc, hash-based pyc, ...)
    FINDING = "finding"  # an audit observation; the file is never modified
    FAILED = "failed"  # could not be processed (I/O error, changed since the walk)


class Patch(NamedTuple):
    """Overwrite `data` at `offset` in place: one small pwrite (a pyc header field)."""

    offset: int
    data: bytes
    what: str
    finding: Finding | None = None  # something to report besides the change itself
    # The entry this file's validity rests on (a pyc's source, a font cache's directory): it
    # keeps its mtime when the patch fails, and what it was is journaled with the patch.
    anchor: int | None = None


class Rewrite(NamedTuple):
    """Replace the whole content: `produce(src, dst)` streams the new bytes into a temp file.

    `src` is the original file opened for reading at offset 0, `dst` the temp file. The writer
    takes care of owner, mode, xattrs, hard links, fsync and the atomic rename.
    """

    produce: Callable[[BinaryIO, BinaryIO], None]
    what: str
    anchor: int | None = None  # see Patch.anchor


class Remove(NamedTuple):
    """Delete every in-tree name of the file (for example a stale pyc, when the profile asks)."""

    what: str
    anchor: int | None = None  # keeps its mtime when the removal fails (see Patch.anchor)


class Leave(NamedTuple):
    """Change nothing but report why: `outcome` is STALE, UNSUPPORTED or SKIPPED."""

    outcome: Outcome
    why: str


class Finding(NamedTuple):
    """An audit result: a stable id (`elf-build-path`), what was seen and what to do."""

    id: str
    detail: str
    advice: str


class Findings(NamedTuple):
    items: tuple[Finding, ...]


Action = Union[Patch, Rewrite, Remove]
Decision = Union[Patch, Rewrite, Remove, Leave, Findings, None]
