"""How --jobs cuts the work into tasks: all of it once, costly directories first, the rest in
walk order, a directory's files together."""

from __future__ import annotations

from pathlib import Path

from rootnorm.inventory import walk
from rootnorm.workers import CHUNK, tasks

LARGE = 256 << 10


def test_tasks_cover_everything_once_large_first_rest_in_walk_order(tmp_path: Path) -> None:
    sizes = {"a/big.jar": LARGE + 1, "m/huge.jar": 4 * LARGE, "z/mid.jar": 2 * LARGE}
    sizes.update({f"p{k:03}/mod.pyc": 100 + k for k in range(700)})
    for rel, size in sizes.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(bytes(size))
    inventory = walk(str(tmp_path))
    candidates = [(i, (0,)) for i, e in enumerate(inventory.entries) if e.is_file]
    cut = tasks(inventory, candidates, 2)
    flat = [candidate for task in cut for candidate in task]
    assert sorted(flat) == sorted(candidates)
    names = [inventory.entries[index].rel.decode() for index, _ in flat]
    assert names[:3] == ["m/huge.jar", "z/mid.jar", "a/big.jar"]
    assert names[3:] == sorted(names[3:])  # the small ones in walk order
    assert len(cut) >= 16 and all(0 < len(task) <= CHUNK for task in cut)
    assert len(cut[0]) == 1  # the largest file is a task of its own
