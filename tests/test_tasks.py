"""--jobs: which files go to workers, and how the work is cut into tasks (all of it once, costly
directories first, the rest in walk order, a directory's files together)."""

from __future__ import annotations

from pathlib import Path

import pytest
from trees import TAG, cache_of, write_source

from rootnorm import handlers
from rootnorm.clock import Clock, Policy
from rootnorm.handlers.base import Settings
from rootnorm.handlers.pyc import PycHandler
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


@pytest.mark.parametrize(
    ("source_mtime", "tag", "options", "costly"),
    [
        (1_700_000_000, TAG, {}, False),  # a header check: light, the parent does it
        (0, TAG, {}, True),  # an ostree checkout: verified by compiling the source
        (0, TAG, {"verify": False}, False),
        (1_700_000_000, "cpython-38", {"checked_hash": "all"}, True),  # hashed in pure Python
        (1_700_000_000, TAG, {"checked_hash": "all"}, False),  # hashed in C by this Python
    ],
    ids=["plain", "checkout", "checkout-no-verify", "other-hash", "own-hash"],
)
def test_which_pycs_are_costly(
    tmp_path: Path, source_mtime: int, tag: str, options: dict[str, object], costly: bool
) -> None:
    source = write_source(tmp_path / "pkg" / "mod.py", "X = 1\n", source_mtime)
    cache = cache_of(source, tag=tag)
    cache.parent.mkdir()
    cache.write_bytes(b"not read: costly() looks at names and mtimes only")
    inventory = walk(str(tmp_path))
    settings = Settings(Clock(Policy.ZERO), mtimes_final=True, source_date_epoch=None)
    handler = PycHandler(settings, options)
    index = inventory.by_rel[b"pkg/__pycache__/" + cache.name.encode()]
    assert handler.costly(inventory, index) is costly


@pytest.mark.parametrize(
    ("handler", "name"), [("gzip", "page.1.gz"), ("zip", "l.jar"), ("ar", "l.a")]
)
def test_every_archive_goes_to_a_worker_however_small(
    tmp_path: Path, handler: str, name: str
) -> None:
    """A small archive costs about as much as handing it over, but the parent decides the pyc
    headers meanwhile: every archive a worker takes is overlap."""
    (tmp_path / name).write_bytes(b"x" * 100)
    inventory = walk(str(tmp_path))
    settings = Settings(Clock(Policy.ZERO), mtimes_final=True, source_date_epoch=None)
    archives = handlers.load(handler)(settings, {})
    assert archives.wants(inventory.entries[1])
    assert archives.costly(inventory, 1)
