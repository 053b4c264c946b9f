"""Issue 13: a system call failing with EIO, ENOSPC, EROFS or EACCES costs the tree nothing.

One failure injected by strace into a run of the ostree profile on a small mixed tree (about
160 entries), then one clean run; the requirements are faultrun's. In CI: each system call of
faultrun.SYSCALLS once, the errno and the point (first, middle, last call touching the tree)
taken in turn, and EIO on the entries issue 13 names. The full matrix (every call x every errno
x the three points, and those: 241 cases, 21 minutes on 2 busy cores):

    ROOTNORM_FAULTS=full nice -n 10 python3 -m pytest -s -q tests/test_faults.py
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import faultrun
import killrun
import mixedtree
import pytest
from faultrun import ERRNOS, SYSCALLS, Case
from killrun import Config, Reference

CONFIG = Config("ostree", 1)
FULL = os.environ.get("ROOTNORM_FAULTS") == "full"

# Failures still expected, by (syscall, errno, point or target): a strict xfail, so a fix
# turns it red (XPASS) and its entry must go.
UNREAD_FONT_CACHE = (
    "a fontconfig cache that cannot be read at all: the font directory it describes is written "
    "inside it, so that directory still gets its new mtime and the cache stays stale"
)
KNOWN: dict[tuple[str, str, str], str] = {
    **{("pread64", error, "first"): UNREAD_FONT_CACHE for error in ERRNOS},
    ("pread64", "EIO", "fontconfig-cache"): UNREAD_FONT_CACHE,
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Reference]:
    base = tmp_path_factory.mktemp("small")
    mixedtree.build(base, ("json",))
    return base, killrun.reference(base, CONFIG)


def _cases() -> list[tuple[str, str, str]]:
    if FULL:
        return [(s, e, p) for s in SYSCALLS for e in ERRNOS for p in ("first", "middle", "last")]
    return [
        (syscall, ERRNOS[i % len(ERRNOS)], ("middle", "first", "last")[i % 3])
        for i, syscall in enumerate(SYSCALLS)
    ]


def _param(syscall: str, error: str, where: str) -> object:
    """A case, `where` a point ("first", "middle", "last") or a target (TARGETS)."""
    why = KNOWN.get((syscall, error, where))
    marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
    return pytest.param(syscall, error, where, id=f"{syscall}-{error}-{where}", marks=marks)


_counted: dict[str, list[tuple[int, bytes]]] = {}


def _calls(base: Path, syscall: str) -> list[tuple[int, bytes]]:
    if syscall not in _counted:
        _counted[syscall] = faultrun.tree_calls(base, CONFIG, syscall)
    calls = _counted[syscall]
    if not calls:
        pytest.fail(f"no {syscall} call touches the tree: is it still made?")
    return calls


def _check(base: Path, ref: Reference, syscall: str, error: str, when: int) -> None:
    result: Case = faultrun.case(base, CONFIG, ref, syscall, error, when)
    print("\n" + result.describe())
    assert not result.problems, result.describe()


@pytest.mark.slow
@pytest.mark.parametrize(("syscall", "error", "point"), [_param(*c) for c in _cases()])
def test_injected_failure_stays_per_entry_and_rerun_converges(
    small: tuple[Path, Reference], syscall: str, error: str, point: str
) -> None:
    base, ref = small
    _check(base, ref, syscall, error, faultrun.point(_calls(base, syscall), point))


def _in_link_group(ref: Reference) -> Callable[[bytes], bool]:
    """A name of a hard-link group with two names or more in the tree."""
    inside = [[n for n in group if n.startswith(b"root/")] for group in ref.before.groups]
    names = {n for group in inside if len(group) > 1 for n in group}
    return names.__contains__


def _directory(ref: Reference) -> Callable[[bytes], bool]:
    """A directory below the root."""
    entries = ref.before.entries
    return lambda rel: rel != b"root" and rel in entries and stat.S_ISDIR(entries[rel].kind)


TARGETS: dict[str, Callable[[Reference], Callable[[bytes], bool]]] = {
    "link-group": _in_link_group,
    "directory": _directory,
    "late-directory": _directory,  # the last call about one: the writer's, after the walk
    "fontconfig-cache": lambda ref: lambda rel: b".cache-" in rel,
    "stale-pyc": lambda ref: lambda rel: rel.startswith(b"root/usr/lib/tampered/__pycache__/"),
}


TARGETED = (
    ("newfstatat", "link-group"),
    ("openat", "link-group"),
    ("linkat", "link-group"),
    ("newfstatat", "directory"),
    ("openat", "directory"),
    ("openat", "late-directory"),
    ("getdents64", "directory"),
    ("fsync", "directory"),
    ("utimensat", "directory"),
    ("utimensat", "late-directory"),
    ("pwrite64", "fontconfig-cache"),
    ("pread64", "fontconfig-cache"),
    ("unlinkat", "stale-pyc"),
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("syscall", "error", "target"), [_param(syscall, "EIO", target) for syscall, target in TARGETED]
)
def test_eio_on_the_entries_the_issue_names(
    small: tuple[Path, Reference], syscall: str, error: str, target: str
) -> None:
    """EIO on the first (late-: the last) call about a hard-link group's name, a directory, a
    fontconfig cache, a stale pyc to remove."""
    base, ref = small
    wanted = TARGETS[target](ref)
    calls = [n for n, entry in _calls(base, syscall) if wanted(entry)]
    assert calls, f"no {syscall} call about a {target}"
    _check(base, ref, syscall, error, calls[-1] if target.startswith("late-") else calls[0])
