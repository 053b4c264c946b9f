"""Kill-and-rerun trials on the mixed tree: interrupt rootnorm at random points, run it once
more to the end, and compare with one uninterrupted run (issue 13, item 6).

Each trial draws its delays from a `random.Random(seed)`; a failure names the seed, the trial
and the delays, so `ROOTNORM_KILL_SEED=N` replays the same points (the timing of a process is
not exact, so a replay lands near, not exactly on, the same system call).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import mixedtree
import treestate
from testlib import SRC
from treestate import TreeState

SURVIVOR_WAIT = 2.0  # seconds the workers get to follow their killed parent


@dataclass(frozen=True)
class Config:
    profile: str
    jobs: int

    @property
    def name(self) -> str:
        return f"{self.profile}-jobs{self.jobs}"

    def command(self, root: Path) -> list[str]:
        return [sys.executable, "-B", "-m", "rootnorm", "--profile", self.profile,
                "--jobs", str(self.jobs), "--quiet", str(root)]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SRC)}
        if self.profile == "rpm":
            env["SOURCE_DATE_EPOCH"] = str(mixedtree.EPOCH)
        return env


@dataclass
class Run:
    code: int
    output: str
    seconds: float


def run(config: Config, root: Path, stop: float | None = None, sig: int = signal.SIGKILL) -> Run:
    """One run of the real command line, sent `sig` after `stop` seconds unless done by then.
    Processes it leaves behind (workers) are waited for a little, then killed and reported."""
    start = time.monotonic()
    proc = subprocess.Popen(
        config.command(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=config.env(),
        start_new_session=True,  # its own process group: its workers can be found and killed
    )
    if stop is not None:
        try:
            proc.wait(timeout=stop)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    output = out.decode("utf-8", "backslashreplace")
    seconds = time.monotonic() - start
    if survivors(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        output += f"\n[harness] processes of the run outlived it by {SURVIVOR_WAIT} s"
    return Run(proc.returncode, output, seconds)


def survivors(pgid: int, wait: float = SURVIVOR_WAIT) -> bool:
    """Whether processes of group `pgid` are still there after `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)


@dataclass
class Reference:
    """The pristine tree and what one uninterrupted run makes of it."""

    before: TreeState
    after: TreeState
    seconds: float  # the slower of two uninterrupted runs: the window the kills are drawn in


def reference(base: Path, config: Config) -> Reference:
    times = []
    for _ in range(2):
        root = mixedtree.fresh(base)
        before = treestate.capture(mixedtree.work(base))
        done = run(config, root)
        assert done.code == 0, f"{config.name}: the uninterrupted run failed:\n{done.output}"
        times.append(done.seconds)
    after = treestate.capture(mixedtree.work(base))
    return Reference(before, after, max(times))


@dataclass
class Trial:
    number: int
    stops: list[float]
    signals: list[str]
    problems: list[str] = field(default_factory=list)
    kills: int = 0  # runs the signal reached before they ended

    def describe(self) -> str:
        points = ", ".join(f"{s} at {t:.3f}s" for s, t in zip(self.signals, self.stops))
        return f"trial {self.number} ({points}):" + treestate.summary(self.problems)


def trial(
    base: Path, config: Config, ref: Reference, rng: random.Random, number: int,
    sig: int = signal.SIGKILL,
) -> Trial:  # fmt: skip
    """A fresh copy interrupted 1-3 times (SIGKILL) or once (another signal) at random points,
    then run to the end; every problem found is listed in the result."""
    kills = rng.choice((1, 1, 2, 3)) if sig == signal.SIGKILL else 1
    stops = [rng.uniform(0, ref.seconds) for _ in range(kills)]
    result = Trial(number, stops, [signal.Signals(sig).name] * kills)
    root = mixedtree.fresh(base)
    top = mixedtree.work(base)
    state = ref.before
    for stop in stops:
        done = run(config, root, stop, sig)
        result.kills += done.code == -sig
        _check_output(result, done, "interrupted run")
        if sig != signal.SIGKILL and done.code < 0:
            result.problems.append(f"{result.signals[0]} not handled: killed by it ({done.code})")
        state = treestate.capture(top)
        result.problems += [f"after the kill: {line}" for line in
                            treestate.corrupt(state, ref.before, ref.after)]  # fmt: skip
        if sig != signal.SIGKILL:
            left = treestate.temp_leftovers(state)
            result.problems += [f"temp file left by the signalled run: {treestate.show(n)}"
                                for n in left]  # fmt: skip
    final = run(config, root)
    _check_output(result, final, "rerun")
    if final.code != 0:
        result.problems.append(f"rerun exit {final.code}: {final.output.strip()[-300:]}")
    killed, state = state, treestate.capture(top)
    result.problems += [f"temp file left after the rerun: {treestate.show(n)}"
                        for n in treestate.own_leftovers(state)]  # fmt: skip
    result.problems += [f"not converged: {line}" for line in
                        treestate.differences(ref.after, state, killed)]  # fmt: skip
    return result


def _check_output(result: Trial, done: Run, what: str) -> None:
    if "Traceback" in done.output or "[harness]" in done.output:
        result.problems.append(f"{what} (exit {done.code}): {done.output.strip()[-600:]}")
    elif done.code == 4:
        result.problems.append(f"{what} exit 4: {done.output.strip()[-300:]}")


CATEGORIES = {
    "after the kill": "corrupt",
    "not converged": "not converged",
    "temp file left after the rerun": "temp left after rerun",
    "temp file left by the signalled run": "temp left by signalled run",
    "rerun exit": "rerun failed",
    "interrupted run": "interrupted run: traceback/exit 4/survivors",
    "rerun (": "rerun: traceback/survivors",
    "SIG": "signal not handled",
}


def figures(failed: list[Trial]) -> str:
    """How many failed trials show each kind of problem."""
    counts = dict.fromkeys(CATEGORIES.values(), 0)
    for result in failed:
        kinds = {
            kind
            for line in result.problems
            for prefix, kind in CATEGORIES.items()
            if line.startswith(prefix)
        }
        for kind in kinds:
            counts[kind] += 1
    return ", ".join(f"{kind} {n}" for kind, n in counts.items() if n) or "no problem"
