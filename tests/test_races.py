"""A name that changes between the walk and the write is refused and left as it is: swapped for
a FIFO, a device-like special file, a symlink out of the root, a hard link to a file outside,
or modified in place. The walk runs first, then the test changes the tree, then the content
phase runs on the stale inventory, as it would if something raced the run."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from trees import cache_of, compile_valid, header, write_source

from rootnorm import pipeline, profile
from rootnorm.decisions import Outcome
from rootnorm.dirfds import DirFds, Raced
from rootnorm.inventory import walk
from rootnorm.report import Record, Report

OLD = 1_000_000


def _content_after(root: Path, change: Callable[[Path], None], check: bool) -> list[Record]:
    """Walk `root`, apply `change` to the pyc, then run the ostree profile's content phase on
    the inventory of before the change (under --check the pyc is opened read-only, else
    read-write: its mtime changes)."""
    run = pipeline.prepare(profile.load("ostree"), None, check, 1)
    inventory = walk(str(root))
    candidates, _ = pipeline._candidates(run, inventory)
    assert candidates, "nothing to race"
    change(cache_of(root / "usr/lib/mod.py"))
    return pipeline._content(run, inventory, candidates, None).records


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    compile_valid(write_source(root / "usr/lib/mod.py", "X = 1\n", OLD))
    return root


def _swap_for_fifo(pyc: Path) -> None:
    pyc.unlink()
    os.mkfifo(pyc)


def _swap_for_link_out(pyc: Path) -> None:
    outside = pyc.parents[4] / "outside.pyc"
    shutil.copy2(pyc, outside)
    pyc.unlink()
    pyc.symlink_to(outside)


def _swap_for_hard_link_out(pyc: Path) -> None:
    outside = pyc.parents[4] / "outside.pyc"
    shutil.copy2(pyc, outside)  # same bytes, size and mtime: only the inode tells them apart
    pyc.unlink()
    os.link(outside, pyc)


def _modify(pyc: Path) -> None:
    with open(pyc, "r+b") as stream:
        stream.seek(0, 2)
        stream.write(b"\0")


@pytest.mark.parametrize("check", [False, True], ids=["write", "check"])
@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_swap_for_fifo, "changed since the walk"),
        (_swap_for_link_out, "Too many levels of symbolic links"),
        (_swap_for_hard_link_out, "changed since the walk"),
        (_modify, "modified since the walk"),
    ],
    ids=["fifo", "symlink-out", "hard-link-out", "modified"],
)
def test_a_name_changed_after_the_walk_is_refused(
    tree: Path, change: Callable[[Path], None], why: str, check: bool
) -> None:
    pyc = cache_of(tree / "usr/lib/mod.py")
    records: list[Record] = []
    # A FIFO opened without O_NONBLOCK would block for ever: the worker thread tells.
    worker = threading.Thread(
        target=lambda: records.extend(_content_after(tree, change, check)), daemon=True
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the run blocked on the swapped-in name"
    failed = [r for r in records if r.outcome is Outcome.FAILED]
    assert len(failed) == 1 and why in failed[0].detail, records
    outside = tree.parent / "outside.pyc"
    if outside.exists():
        assert header(outside)[1] == OLD, "a file outside the root was written"
        assert outside.stat().st_mtime_ns == OLD * 1_000_000_000
    if pyc.is_file() and not pyc.is_symlink():
        assert header(pyc)[1] == OLD  # the modified one: left as it is now


def test_a_directory_swapped_after_the_walk_saw_it_is_not_opened(tmp_path: Path) -> None:
    """The walk lists, and the writer reaches, each directory through `DirFds`: opened by name
    from its parent's fd without following a symlink, and checked to be the inode the walk saw.
    A directory swapped for a symlink out of the root is refused, and so is one reached through
    such a symlink higher up, or replaced by another directory."""
    root = tmp_path / "root"
    (root / "usr/lib/pkg").mkdir(parents=True)
    (root / "usr/share").mkdir(parents=True)
    (tmp_path / "outside/pkg").mkdir(parents=True)
    (tmp_path / "outside/pkg/secret").write_text("not in the root\n")
    inventory = walk(str(root))
    os.rename(root / "usr/lib", root / "usr/lib.real")
    os.symlink(tmp_path / "outside", root / "usr/lib")
    os.rename(root / "usr/share", root / "usr/share.real")
    (root / "usr/share").mkdir()
    # O_NOFOLLOW | O_DIRECTORY on a symlink: ENOTDIR (ELOOP without O_DIRECTORY)
    for rel, why in (
        (b"usr/lib", (errno.ENOTDIR, errno.ELOOP)),
        (b"usr/lib/pkg", (errno.ENOTDIR, errno.ELOOP)),
    ):
        with DirFds(inventory.root, inventory.entries) as dirs, pytest.raises(OSError) as refused:
            dirs.get(inventory.by_rel[rel])
        assert refused.value.errno in why, rel
    with DirFds(inventory.root, inventory.entries) as dirs, pytest.raises(Raced):
        dirs.get(inventory.by_rel[b"usr/share"])


def test_a_directory_moved_out_of_the_root_after_the_walk_is_not_written(tmp_path: Path) -> None:
    """usr/lib leaves the root after the walk (same inodes) and a symlink to it takes its place.
    Opening `usr/lib/__pycache__` by path would reach the very inodes the walk saw, so inode
    checks alone pass; directories are opened name by name from the root's fd instead, and the
    symlink stops it: neither the pyc header nor any mtime outside the root changes."""
    root = tmp_path / "root"
    compile_valid(write_source(root / "usr/lib/mod.py", "X = 1\n", OLD))
    run = pipeline.prepare(profile.load("ostree"), None, False, 1)
    inventory = walk(str(root))
    candidates, _ = pipeline._candidates(run, inventory)
    outside = tmp_path / "outside-lib"
    os.rename(root / "usr/lib", outside)
    os.symlink(outside, root / "usr/lib")
    pyc = cache_of(outside / "mod.py")
    before = {p: p.lstat().st_mtime_ns for p in (outside, pyc, outside / "mod.py")}
    records = pipeline._content(run, inventory, candidates, None).records
    assert [r.outcome for r in records] == [Outcome.FAILED], records
    assert header(pyc)[1] == OLD
    report = Report("ostree", "zero", False, [])
    assert run.mtime is not None
    pipeline._finish(run, inventory, report, None, set())
    assert {p: p.lstat().st_mtime_ns for p in before} == before
    assert any(r.outcome is Outcome.FAILED for r in report.records)
