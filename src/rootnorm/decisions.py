"""What a handler can decide about a file. Handlers only decide; `writer` applies.

A decision is plain data, so `--check` costs nothing extra: the pipeline reports the decision
instead of applying it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO, Union


class Outcome(str, Enum):
    CHANGED = "changed"  # bytes or mtime were (or, under --check, would be) changed
    REMOVED = "removed"  # the file was (or would be) deleted, e.g. a stale pyc
    STALE = "stale"  # a cache that no longer matches its source; left as it is
    UNSUPPORTED = "unsupported"  # looks like a format the handler knows but is not; untouched
    SKIPPED = "skipped"  # nothing to do by design (sourceless pyc, hash-based pyc, ...)
    FINDING = "finding"  # an audit observation; the file is never modified
    FAILED = "failed"  # could not be processed (I/O error, changed since the walk)


@dataclass(frozen=True)
class Patch:
    """Overwrite `data` at `offset` in place: one small pwrite (a pyc header field)."""

    offset: int
    data: bytes
    what: str
    finding: Finding | None = None  # something to report besides the change itself


@dataclass(frozen=True)
class Rewrite:
    """Replace the whole content: `produce(src, dst)` streams the new bytes into a temp file.

    `src` is the original file opened for reading at offset 0, `dst` the temp file. The writer
    takes care of owner, mode, xattrs, hard links, fsync and the atomic rename.
    """

    produce: Callable[[BinaryIO, BinaryIO], None]
    what: str


@dataclass(frozen=True)
class Remove:
    """Delete every in-tree name of the file (for example a stale pyc, when the profile asks)."""

    what: str


@dataclass(frozen=True)
class Leave:
    """Change nothing but report why: `outcome` is STALE, UNSUPPORTED or SKIPPED."""

    outcome: Outcome
    why: str


@dataclass(frozen=True)
class Finding:
    """An audit result: a stable id (`elf-build-path`), what was seen and what to do."""

    id: str
    detail: str
    advice: str


@dataclass(frozen=True)
class Findings:
    items: tuple[Finding, ...]


Action = Union[Patch, Rewrite, Remove]
Decision = Union[Patch, Rewrite, Remove, Leave, Findings, None]
