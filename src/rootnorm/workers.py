"""--jobs: the content work cut into tasks of about equal cost and spread over forked workers.

Workers are forked, so they inherit the run and the inventory as they are; a task is a list of
candidates, and what a worker did comes back as its result, applied by the parent.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar, cast

from rootnorm import stopping
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


@contextlib.contextmanager
def spread(
    jobs: int, cut: list[list[Candidate]], work: Callable[[list[Candidate]], Result]
) -> Iterator[Iterator[tuple[list[Candidate], Result]]]:
    """Each task with what `work` made of it in one of `jobs` forked workers, in task order.
    The workers start on entering, so the caller can work meanwhile.

    Each worker has a pipe of its own for task numbers and one for results: no lock is shared,
    so a worker can end at any moment (a signal, the OOM killer) without leaving one held.
    Leaving the block early (a stop) ends the workers with SIGTERM; each removes its temp file,
    if any, and the journal lets the next run finish. A worker never outlives the main process.
    """
    workers: list[_Worker] = []
    for _ in range(min(jobs, len(cut))):
        workers.append(_Worker(cut, work, workers))
    try:
        yield _results(workers, cut)
    except BaseException:
        stopping.ending_workers()
        for worker in workers:
            worker.end(signal.SIGTERM)
        raise
    finally:
        for worker in workers:
            worker.end(None)


class _Worker:
    def __init__(
        self,
        cut: list[list[Candidate]],
        work: Callable[[list[Candidate]], Result],
        earlier: list[_Worker],
    ) -> None:
        task_r, self.task_w = os.pipe()
        self.result_r, result_w = os.pipe()
        self.task = -1  # the task it works on, -1 when idle
        self.buffer = bytearray()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child process (its coverage is not joined)
            # only its own pipe ends: another worker must see the end of its task pipe
            for fd in [self.task_w, self.result_r, *(w.task_w for w in earlier)]:
                os.close(fd)
            for fd in (w.result_r for w in earlier):
                os.close(fd)
            _serve(task_r, result_w, cut, work)
        os.close(task_r)
        os.close(result_w)

    def give(self, task: int) -> None:
        self.task = task
        os.write(self.task_w, struct.pack("<I", task))

    def end(self, signum: int | None) -> None:
        if self.pid <= 0:
            return
        if signum is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)
        for fd in (self.task_w, self.result_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        os.waitpid(self.pid, 0)  # an idle worker ends at the end of its task pipe
        self.pid = 0


def _serve(
    task_r: int,
    result_w: int,
    cut: list[list[Candidate]],
    work: Callable[[list[Candidate]], Result],
) -> None:
    """The worker's loop: task numbers in, pickled results out, until the pipe ends."""
    code = 0
    try:
        stopping.in_worker()
        while True:
            number = _read_exactly(task_r, 4)
            if number is None:
                break
            stopping.busy(True)
            data = pickle.dumps(work(cut[struct.unpack("<I", number)[0]]), pickle.HIGHEST_PROTOCOL)
            stopping.busy(False)
            view = memoryview(struct.pack("<Q", len(data)) + data)
            while view:
                view = view[os.write(result_w, view) :]
    except stopping.Stopped as stop:
        code = 128 + stop.signum  # quietly: the main process reports the stop
    except BaseException:  # never a traceback from a worker; the main process reports it
        code = 70
    os._exit(code)


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _results(
    workers: list[_Worker], cut: list[list[Candidate]]
) -> Iterator[tuple[list[Candidate], Result]]:
    """Hands out the tasks and yields their results in task order, looking for a stop request
    between them. A worker that ends without its result stops the run."""
    done: dict[int, Result] = {}
    following = 0  # the next task to hand out
    yielded = 0
    by_fd = {worker.result_r: worker for worker in workers}
    for worker in workers:
        worker.give(following)
        following += 1
    with selectors.DefaultSelector() as selector:
        for worker in workers:
            selector.register(worker.result_r, selectors.EVENT_READ)
        while yielded < len(cut):
            while yielded in done:
                yield cut[yielded], done.pop(yielded)
                yielded += 1
            if yielded == len(cut):
                break
            stopping.check()
            for key, _ in selector.select(timeout=0.2):
                worker = by_fd[key.fd]
                result = _receive(worker)
                if result is None:
                    continue
                done[worker.task] = cast(Result, result[0])
                worker.task = -1
                if following < len(cut):
                    worker.give(following)
                    following += 1


def _receive(worker: _Worker) -> tuple[object] | None:
    """Read what is there; the whole result once it is complete."""
    chunk = os.read(worker.result_r, 1 << 20)
    if not chunk:
        _, status = os.waitpid(worker.pid, 0)
        worker.pid = 0
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else signal.SIGTERM
        raise stopping.Stopped(signum)  # killed, or it could not finish its task
    worker.buffer += chunk
    if len(worker.buffer) < 8:
        return None
    size = struct.unpack_from("<Q", worker.buffer)[0]
    if len(worker.buffer) < 8 + size:
        return None
    result = pickle.loads(bytes(worker.buffer[8 : 8 + size]))
    del worker.buffer[: 8 + size]
    return (result,)
