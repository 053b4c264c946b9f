"""What issue 13 requires to be equal between two trees, and the checks of a run's leftovers.

Equal: every entry's type, content (or link target, or device number), mode, owner, every
xattr and mtime in nanoseconds, and the hard-link grouping (which names share an inode, not the
inode numbers). Leftovers: rootnorm's temp files (writer._temp_name's pattern), and corrupt
files: a regular file whose bytes are neither those it had before the run nor those one
uninterrupted run gives it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

# writer._temp_name: "." + name[:200] + "." + 8 hex digits + ".rootnorm-tmp"
TEMP_NAME = re.compile(rb"\..*\.[0-9a-f]{8}\.rootnorm-tmp", re.DOTALL)
# rootnorm's journal: kept by a run that stopped or failed, for the next run to finish from
JOURNAL_NAME = re.compile(rb"\.rootnorm-journal\.[0-9]+")


def own(rel: bytes) -> bool:
    """A temp file or journal of rootnorm's."""
    name = os.path.basename(rel)
    return bool(TEMP_NAME.fullmatch(name) or JOURNAL_NAME.fullmatch(name))


SHOWN = 12  # differences listed in a message; the rest are counted


@dataclass(frozen=True)
class EntryState:
    kind: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    xattrs: tuple[tuple[str, bytes], ...]
    digest: bytes  # sha256 of the content, the link target or the device number
    head: bytes  # a regular file's first 16 bytes (a pyc header), to say how it differs


@dataclass(frozen=True)
class TreeState:
    entries: dict[bytes, EntryState]
    groups: frozenset[frozenset[bytes]]  # names sharing an inode, groups of two or more


def _walk(top: bytes) -> Iterator[tuple[bytes, os.stat_result]]:
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            yield os.path.relpath(path, top), os.lstat(path)


def capture(top: Path) -> TreeState:
    """The state of every entry below `top` (not `top` itself), by top-relative bytes path."""
    base = os.fsencode(top)
    entries: dict[bytes, EntryState] = {}
    inodes: dict[tuple[int, int], set[bytes]] = {}
    for rel, st in _walk(base):
        path = os.path.join(base, rel)
        head = b""
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                head = f.read(16)
                digest.update(head)
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            value = digest.digest()
        elif stat.S_ISLNK(st.st_mode):
            value = os.readlink(path)
        else:
            value = str(st.st_rdev).encode()
        names = sorted(os.listxattr(path, follow_symlinks=False))
        attrs = tuple((n, os.getxattr(path, n, follow_symlinks=False)) for n in names)
        entries[rel] = EntryState(
            stat.S_IFMT(st.st_mode),
            stat.S_IMODE(st.st_mode),
            st.st_uid,
            st.st_gid,
            st.st_mtime_ns,
            attrs,
            value,
            head,
        )
        if not stat.S_ISDIR(st.st_mode):
            inodes.setdefault((st.st_dev, st.st_ino), set()).add(rel)
    groups = frozenset(frozenset(g) for g in inodes.values() if len(g) > 1)
    return TreeState(entries, groups)


def show(rel: bytes) -> str:
    return repr(rel)[2:-1]


def _how(expected: EntryState, actual: EntryState) -> str:
    parts = []
    for field in fields(EntryState):
        want, got = getattr(expected, field.name), getattr(actual, field.name)
        if field.name == "digest" or want == got:
            continue
        if field.name == "head":
            parts.append(f"content {want.hex()}.. != {got.hex()}..")
        elif field.name == "mtime_ns":
            parts.append(f"mtime {want / 1e9:.9f} != {got / 1e9:.9f}")
        else:
            parts.append(f"{field.name} {want!r} != {got!r}")
    if expected.digest != actual.digest and expected.head == actual.head:
        parts.append("content differs after the first 16 bytes")
    return "; ".join(parts)


def _source_of(rel: bytes) -> bytes:
    """`d/x.py` for a cache `d/__pycache__/x.TAG[.opt-N].pyc` or `d/x.pyc` (Python 2)."""
    directory, name = os.path.split(rel)
    if os.path.basename(directory) == b"__pycache__":
        return os.path.join(os.path.dirname(directory), name.split(b".")[0] + b".py")
    return rel[: -len(b"c")] if rel.endswith(b".pyc") else rel


def differences(
    expected: TreeState, actual: TreeState, earlier: TreeState | None = None
) -> list[str]:
    """Every way `actual` differs from `expected`, one line per entry or link group; a missing
    entry is shown as it was in `earlier` (say, after a kill, before the rerun removed it)."""
    return [line for _names, line in differences_by_name(expected, actual, earlier)]


def differences_by_name(
    expected: TreeState, actual: TreeState, earlier: TreeState | None = None
) -> list[tuple[frozenset[bytes], str]]:
    """treestate.differences, each line with the names it is about."""
    lines = []
    for rel in sorted(expected.entries.keys() | actual.entries.keys()):
        want, got = expected.entries.get(rel), actual.entries.get(rel)
        was = earlier.entries.get(rel) if earlier is not None else None
        if got is None and want is not None and was is not None and earlier is not None:
            how = _how(want, was) or "as expected"
            source = earlier.entries.get(_source_of(rel))
            if source is not None:
                how += f"; its source's mtime {source.mtime_ns / 1e9:.9f}"
            line = f"{show(rel)}: missing; before the rerun: {how}"
        elif got is None:
            line = f"{show(rel)}: missing"
        elif want is None:
            line = f"{show(rel)}: unexpected"
        elif want != got:
            line = f"{show(rel)}: {_how(want, got)}"
        else:
            continue
        lines.append((frozenset([rel]), line))
    for group in sorted(expected.groups - actual.groups, key=sorted):
        lines.append((group, f"link group split or changed: {sorted(show(n) for n in group)}"))
    for group in sorted(actual.groups - expected.groups, key=sorted):
        lines.append((group, f"link group not expected: {sorted(show(n) for n in group)}"))
    return lines


def temp_leftovers(state: TreeState) -> list[bytes]:
    """Names matching rootnorm's temp-file pattern, whatever their type."""
    return sorted(rel for rel in state.entries if TEMP_NAME.fullmatch(os.path.basename(rel)))


def own_leftovers(state: TreeState) -> list[bytes]:
    """Temp files and journals of rootnorm's: none may stay after a complete run."""
    return sorted(rel for rel in state.entries if own(rel))


def corrupt(state: TreeState, before: TreeState, after: TreeState) -> list[str]:
    """Regular files (temp files aside) whose bytes are neither `before`'s nor `after`'s, and
    names that are in neither tree."""
    lines = []
    for rel, entry in sorted(state.entries.items()):
        if own(rel):
            continue
        old, new = before.entries.get(rel), after.entries.get(rel)
        if old is None and new is None:
            lines.append(f"{show(rel)}: a name neither before nor after the run")
        elif stat.S_ISREG(entry.kind) and entry.digest not in {
            e.digest for e in (old, new) if e is not None
        }:
            lines.append(f"{show(rel)}: bytes neither as before nor as after the run")
    return lines


def summary(lines: list[str]) -> str:
    """The lines grouped by kind (paths and numbers aside): each kind's count and first line."""
    kinds: dict[str, list[str]] = {}
    for line in lines:
        kinds.setdefault(re.sub(r"\d+", "N", re.sub(r"root/\S*", "PATH", line)), []).append(line)
    shown = [f"{len(same)} x {same[0]}" if len(same) > 1 else same[0] for same in kinds.values()]
    more = f"\n  ... and {len(shown) - SHOWN} more kinds" if len(shown) > SHOWN else ""
    return "\n  ".join(["", *shown[:SHOWN]]) + more
