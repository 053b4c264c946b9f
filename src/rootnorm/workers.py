"""--jobs: the content work cut into tasks of about equal cost and spread over forked workers.

Workers are forked, so they inherit the run and the inventory as they are; a task is a list of
candidates, and what a worker did comes back as its result, applied by the parent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar, cast

from rootnorm.inventory import Inventory

if TYPE_CHECKING:
    from rootnorm.pipeline import Candidate

Result = TypeVar("Result")
CHUNK = 256  # most candidates per task: large enough to amortise the hand-over
TASKS_PER_JOB = 16  # but at least this many tasks per worker, so one slow archive cannot stall
COST_BYTES = 4096  # in planning a task, this many bytes of a file cost as much as opening one
LARGE = 256 << 10  # files this large are handed out first, one task each or nearly


def tasks(inventory: Inventory, candidates: list[Candidate], jobs: int) -> list[list[Candidate]]:
    """The candidates cut into tasks of about equal cost, so that the workers finish together
    (a file costs a fixed part plus its size: large archives are what takes long). Large
    files come first, largest first; the rest keep their walk order, so a task stays in a few
    directories (directory fds are reused, a module's caches stay together)."""
    entries = inventory.entries

    def cost(candidate: Candidate) -> int:
        return 1 + entries[candidate[0]].size // COST_BYTES

    large = [c for c in candidates if entries[c[0]].size >= LARGE]
    large.sort(key=cost, reverse=True)
    ordered = large + [c for c in candidates if entries[c[0]].size < LARGE]
    budget = max(1, sum(map(cost, ordered)) // (jobs * TASKS_PER_JOB))
    cut: list[list[Candidate]] = [[]]
    spent = 0
    for candidate in ordered:
        if spent >= budget or len(cut[-1]) == CHUNK:
            cut.append([])
            spent = 0
        cut[-1].append(candidate)
        spent += cost(candidate)
    return cut


_FORKED: Callable[[list[Candidate]], object] | None = None  # what forked workers inherit


def _work(task: list[Candidate]) -> object:
    assert _FORKED is not None
    return _FORKED(task)


@contextlib.contextmanager
def spread(
    jobs: int, cut: list[list[Candidate]], work: Callable[[list[Candidate]], Result]
) -> Iterator[Iterator[tuple[list[Candidate], Result]]]:
    """Each task with what `work` made of it in one of `jobs` forked workers, in task order.
    The workers start on entering, so the caller can work meanwhile. multiprocessing is
    imported here: a serial run does not pay 13 ms of start-up for it."""
    import multiprocessing

    global _FORKED
    _FORKED = work
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            yield zip(cut, cast(Iterator[Result], pool.imap(_work, cut)))
    finally:
        _FORKED = None
