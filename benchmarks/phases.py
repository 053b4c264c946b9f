#!/usr/bin/env python3
"""Where a rootnorm run spends its time: each phase timed in-process, best of several runs.

``run.py`` times whole processes; this script opens one up.  On a fresh copy of a corpus it runs
the steps of ``pipeline.execute`` one by one (walk, name prefilter, content handlers, mtime
pass), with each content handler's ``inspect`` timed on its own; "content, outside inspect" is
opening, writing and bookkeeping.  Start-up is importing ``rootnorm.cli`` in a fresh process
(byte-compiled, as installed) minus a bare interpreter's start.  It uses the pipeline's private
steps, so it moves with them.

Usage: ``python3 benchmarks/phases.py [--corpus debian] [--profile ostree] [--repeat 3]
[--second] [--scratch /dev/shm]``.  ``--second`` times a run on a tree rootnorm already
processed (what ``rootnorm ostree 2nd run`` measures).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import corpus as corpora

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))

from rootnorm import pipeline  # noqa: E402  (after the path is set)
from rootnorm import profile as profiles  # noqa: E402
from rootnorm.inventory import walk  # noqa: E402
from rootnorm.progress import Progress  # noqa: E402
from rootnorm.report import Report  # noqa: E402


@contextmanager
def _timed_inspects(run: pipeline.Run, spent: dict[str, float]) -> Iterator[None]:
    """Add each handler's inspect time to `spent` while the block runs."""
    originals = [(handler, handler.inspect) for handler in run.content]
    for handler, inspect in originals:

        def timed(item: object, inspect: Callable[..., object] = inspect, name: str = handler.name):
            start = time.perf_counter()
            try:
                return inspect(item)
            finally:
                spent[f"  {name} inspect"] += time.perf_counter() - start

        handler.inspect = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        for handler, inspect in originals:
            handler.inspect = inspect  # type: ignore[method-assign]


def one_run(tree: Path, profile_name: str, second: bool) -> dict[str, float]:
    """The phases of one run on `tree`, in seconds."""
    profile = profiles.load(profile_name)
    report = Report(profile_name, "", False, [])
    if second:
        first = pipeline.prepare(profile, None, False, 1)
        pipeline.execute(first, str(tree), report, Progress(False))
    run = pipeline.prepare(profile, None, False, 1)
    spent: dict[str, float] = defaultdict(float)
    gc.disable()  # as pipeline.execute does
    try:
        start = time.perf_counter()
        inventory = walk(str(tree), profile.exclude, profile.cross_mounts)
        spent["walk"] = time.perf_counter() - start
        start = time.perf_counter()
        candidates, _ = pipeline._candidates(run, inventory)
        spent["name prefilter"] = time.perf_counter() - start
        with _timed_inspects(run, spent):
            start = time.perf_counter()
            journal = pipeline._journal(run, inventory)
            held = pipeline._content(run, inventory, candidates, None, journal).held
            spent["content"] = time.perf_counter() - start
        inspected = sum(v for k, v in spent.items() if k.endswith(" inspect"))
        spent["  content, outside inspect"] = spent["content"] - inspected
        start = time.perf_counter()
        pipeline._finish(run, inventory, report, journal, set(held))
        spent["mtime pass, journal"] = time.perf_counter() - start
    finally:
        gc.enable()
    return spent


def start_up() -> float:
    """Seconds that importing rootnorm.cli adds to a bare interpreter's start (best of 5)."""
    with tempfile.TemporaryDirectory() as stage:
        shutil.copytree(SRC / "rootnorm", Path(stage) / "rootnorm")
        subprocess.run([sys.executable, "-m", "compileall", "-q", stage], check=True)
        env = {**os.environ, "PYTHONPATH": stage}

        def best(code: str) -> float:
            times = []
            for _ in range(5):
                begin = time.perf_counter()
                subprocess.run([sys.executable, "-B", "-c", code], env=env, check=True)
                times.append(time.perf_counter() - begin)
            return min(times)

        return best("import rootnorm.cli") - best("pass")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=corpora.default_cache())
    parser.add_argument("--corpus", default="debian")
    parser.add_argument("--profile", default="ostree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--second", action="store_true", help="time a second run")
    parser.add_argument("--scratch", type=Path, default=Path("/dev/shm"))
    args = parser.parse_args(argv)
    source = corpora.build(args.cache, args.corpus).root
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        tree = Path(scratch) / "tree"
        for _ in range(args.repeat):
            corpora.fresh_copy(source, tree)
            for phase, seconds in one_run(tree, args.profile, args.second).items():
                best[phase] = min(best.get(phase, seconds), seconds)
        corpora.remove_tree(tree)
    best["start-up (imports)"] = start_up()
    run_kind = "second run" if args.second else "first run"
    print(f"{args.corpus}, --profile {args.profile}, {run_kind}, best of {args.repeat}:")
    parts = sorted(phase for phase in best if phase.startswith(" "))  # inside "content"
    for phase in [p for p in best if not p.startswith(" ")]:
        for line in [phase, *parts] if phase == "content" else [phase]:
            print(f"  {line:30s} {best[line] * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
