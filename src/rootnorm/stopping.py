"""SIGINT, SIGTERM and SIGHUP stop a run at a safe point: between two files, never inside one.

The first signal is noted; the run checks for it between files (`check`) and stops there, with
nothing half-done but what the journal lets the next run finish. A second signal stops at once
(as a kill would: every file is still fully old or fully new). The exit code is 128 + the
signal's number, as a shell reports a process the signal ended.
"""

from __future__ import annotations

import mmap
import os
import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
requested = 0  # the number of the first signal received, 0 while none
_busy = False  # a worker is in the middle of a task (else it ends at once)
_parent = 0  # in a worker: the pid of the run's main process
# One byte shared with forked workers: the main process is stopping (it ends them itself).
# A worker that gets SIGTERM from anyone else passes it on, so the run stops as a whole.
_stopping = mmap.mmap(-1, 1)


class Stopped(BaseException):
    """A signal asked the run to stop. A BaseException, like KeyboardInterrupt: no
    `except Exception` meant for bad input may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _note(signum: int, frame: FrameType | None) -> None:
    global requested
    if requested:
        raise Stopped(requested)
    requested = signum
    _stopping[0] = 1


def install() -> None:
    """In the main process: note the first signal, stop at once on the second."""
    for signum in SIGNALS:
        signal.signal(signum, _note)


def ending_workers() -> None:
    """The main process ends its workers itself: their SIGTERM is not news to pass on."""
    _stopping[0] = 1


def check() -> None:
    """Raise Stopped if a signal asked for it (call between files)."""
    if requested:
        raise Stopped(requested)


def _worker_note(signum: int, frame: FrameType | None) -> None:
    if not _stopping[0] and os.getppid() == _parent:
        os.kill(_parent, signal.SIGTERM)  # not sent by the main process: stop it too
    if _busy:
        raise Stopped(signum)  # the writer removes its temp file; the journal does the rest
    os._exit(128 + signum)  # between tasks nothing is open


def in_worker() -> None:
    """In a --jobs worker. SIGINT and SIGHUP are the main process's to decide (a terminal
    sends them to the whole process group). SIGTERM, which the main process's pool sends to
    end its workers, and which a worker gets when the main process dies, ends the worker at
    once: a kill's guarantees hold (every file fully old or fully new), and its temp file is
    removed. SIGTERM from anyone else stops the main process as well."""
    global _parent
    _parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_note)
    _die_with_parent()


def busy(working: bool) -> None:
    global _busy
    _busy = working


def _die_with_parent() -> None:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != _parent:  # the main process died before prctl took effect
        os._exit(128 + signal.SIGTERM)
