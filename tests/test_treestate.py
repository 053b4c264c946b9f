"""The tree comparator of the convergence and fault tests sees every change issue 13 names."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import treestate

Change = Callable[[Path], None]


def _tree(top: Path) -> None:
    root = top / "root"
    (root / "d").mkdir(parents=True)
    (root / "d/a").write_bytes(b"a" * 100)
    (root / "d/b").write_bytes(b"b" * 100)
    os.link(root / "d/a", root / "d/a2")
    os.link(root / "d/b", root / "b2")
    os.symlink("a", root / "d/link")
    os.mkfifo(root / "fifo")
    os.setxattr(root / "d/a", "user.k", b"v")
    (top / "outside").mkdir()
    os.link(root / "d/b", top / "outside/b")


def _rewrite(path: Path, data: bytes) -> None:
    """New content through a new inode, as a rename would."""
    st = os.stat(path)
    path.unlink()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _split(top: Path) -> None:
    _rewrite(top / "root/d/a2", b"a" * 100)
    os.setxattr(top / "root/d/a2", "user.k", b"v")


CHANGES: dict[str, tuple[Change, str]] = {
    "content": (lambda t: (t / "root/d/a").write_bytes(b"A" + b"a" * 99), "content 6161"),
    "late content": (lambda t: (t / "root/d/a").write_bytes(b"a" * 99 + b"A"), "after the first"),
    "mode": (lambda t: os.chmod(t / "root/d/a", 0o600), "mode"),
    "owner": (lambda t: os.chown(t / "root/d/a", 4321, -1), "uid"),
    "group": (lambda t: os.chown(t / "root/d/a", -1, 8765), "gid"),
    "xattr value": (lambda t: os.setxattr(t / "root/d/a", "user.k", b"w"), "xattrs"),
    "xattr gone": (lambda t: os.removexattr(t / "root/d/a", "user.k"), "xattrs"),
    "file mtime": (lambda t: os.utime(t / "root/d/b", ns=(1, 1)), "mtime"),
    "mtime by 1 ns": (
        lambda t: os.utime(t / "root/d/b", ns=(0, os.stat(t / "root/d/b").st_mtime_ns + 1)),
        "mtime",
    ),
    "directory mtime": (lambda t: os.utime(t / "root/d", ns=(1, 1)), "root/d: mtime"),
    "symlink mtime": (
        lambda t: os.utime(t / "root/d/link", ns=(1, 1), follow_symlinks=False),
        "root/d/link: mtime",
    ),
    "link target": (
        lambda t: ((t / "root/d/link").unlink(), os.symlink("b", t / "root/d/link")),
        "root/d/link",
    ),
    "removed": (lambda t: (t / "root/fifo").unlink(), "root/fifo: missing"),
    "added": (lambda t: (t / "root/new").write_bytes(b""), "root/new: unexpected"),
    "hard-link group split": (_split, "link group split"),
    "outside link cut": (
        lambda t: _rewrite(t / "root/b2", b"b" * 100),
        "link group split",
    ),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_each_change_is_a_difference(tmp_path: Path, name: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _tree(first)
    subprocess.run(["cp", "-a", str(first), str(second)], check=True)
    expected = treestate.capture(first)
    assert treestate.differences(expected, treestate.capture(second)) == []
    change, shown = CHANGES[name]
    change(second)
    lines = treestate.differences(expected, treestate.capture(second))
    assert lines and any(shown in line for line in lines), lines


def test_temp_files_and_corrupt_files_are_found(tmp_path: Path) -> None:
    _tree(tmp_path)
    before = treestate.capture(tmp_path)
    (tmp_path / "root/d/a").write_bytes(b"x" * 100)
    after = treestate.capture(tmp_path)
    (tmp_path / "root/d/b").write_bytes(b"b" * 50)  # half written
    temp = os.fsencode(tmp_path / "root/d") + b"/.odd\nname\xff.0a1b2c3d.rootnorm-tmp"
    with open(temp, "wb"):
        pass
    (tmp_path / "root/d/.a.0A1B2C3D.rootnorm-tmp").write_bytes(b"")  # not rootnorm's pattern
    state = treestate.capture(tmp_path)
    assert treestate.temp_leftovers(state) == [b"root/d/.odd\nname\xff.0a1b2c3d.rootnorm-tmp"]
    corrupt = treestate.corrupt(state, before, after)
    assert any(line.startswith("root/d/b:") for line in corrupt), corrupt
    assert any("0A1B2C3D" in line and "neither" in line for line in corrupt), corrupt
    assert not any(line.startswith("root/d/a:") for line in corrupt), corrupt
