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


def tasks(inventory: Inventory, candidates: list[Candidate], jobs: int) -> list[list[Candidate]]:
    """The candidates cut into tasks of about equal cost, so that the workers finish together
    (a file costs a fixed part plus its size: large archives are what takes long).

    Candidates are grouped by directory, the costliest directories first (LPT scheduling), each
    in walk order; a task ends between directories unless one directory alone is too much.
    So a task reuses its directory fds, and a module's caches (which share one hash of their
    source) stay with one worker.
    """
    entries = inventory.entries

    def cost(candidate: Candidate) -> int:
        return 1 + entries[candidate[0]].size // COST_BYTES

    groups: list[list[Candidate]] = []
    for candidate in candidates:
        if groups and entries[groups[-1][0][0]].parent == entries[candidate[0]].parent:
            groups[-1].append(candidate)
        else:
            groups.append([candidate])
    groups.sort(key=lambda group: sum(map(cost, group)), reverse=True)
    budget = max(1, sum(map(cost, candidates)) // (jobs * TASKS_PER_JOB))
    cut: list[list[Candidate]] = [[]]
    spent = 0
    for group in groups:
        for position, candidate in enumerate(group):
            full = spent >= budget and (position == 0 or spent >= 2 * budget)
            if full or len(cut[-1]) == CHUNK:
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
