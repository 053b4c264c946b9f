"""The walk's excludes: literal paths and fnmatch patterns ("*" also crosses "/")."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootnorm.inventory import walk

TREE = ("proc/1/stat", "usr/lib/a.tmp", "usr/lib/keep.py", "usr/share/cache/x", "var/tmp/b.tmp")


@pytest.mark.parametrize(
    ("exclude", "left"),
    [
        ((), set(TREE)),
        (("proc", "var/tmp"), {"usr/lib/a.tmp", "usr/lib/keep.py", "usr/share/cache/x"}),
        (("proc", "*.tmp"), {"usr/lib/keep.py", "usr/share/cache/x"}),
        (("usr/*/cache", "var"), {"proc/1/stat", "usr/lib/a.tmp", "usr/lib/keep.py"}),
        (("usr/lib",), {"proc/1/stat", "usr/share/cache/x", "var/tmp/b.tmp"}),
    ],
    ids=["nothing", "literal", "suffix-anywhere", "wildcard-dir", "literal-subdir"],
)
def test_excludes(tmp_path: Path, exclude: tuple[str, ...], left: set[str]) -> None:
    for rel in TREE:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    inventory = walk(str(tmp_path), exclude)
    files = {e.rel.decode() for e in inventory.entries if e.is_file}
    assert files == left
    assert all(inventory.by_rel[e.rel] == i for i, e in enumerate(inventory.entries))
