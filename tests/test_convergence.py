"""Issue 13: kill rootnorm at random points, run it once more, get what one clean run gives.

On the mixed tree (tests/mixedtree.py), per configuration (ostree and rpm, serial and
--jobs 2): trials until ROOTNORM_KILLS runs (default 20) were SIGKILLed before their end, each
trial a fresh copy SIGKILLed 1-3 times at random points within the time of an uninterrupted
run, then run to the end. Required: no corrupt file
after any kill (each file as before or as after), exit 0 and no traceback from the rerun, no
temp file left, and the tree equal to the uninterrupted run's (treestate.differences).
SIGINT, SIGTERM and SIGHUP, delivered at fixed points by strace, also require the signalled
run to stop by itself without a traceback and leave no temp file.

The seed is printed and named in every failure; ROOTNORM_KILL_SEED=N replays it. The longer
run of the issue (200+ kills per configuration), about 5 minutes of CPU per configuration:

    ROOTNORM_KILLS=200 nice -n 10 python3 -m pytest -s -q tests/test_convergence.py
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import time
from collections import Counter
from pathlib import Path

import faultrun
import killrun
import mixedtree
import pytest
import treestate
from killrun import Config, Reference, Trial
from testlib import NS, rootnorm

SEED = int(os.environ.get("ROOTNORM_KILL_SEED") or random.randrange(1 << 32))
KILLS = int(os.environ.get("ROOTNORM_KILLS") or 20)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("mixed")
    mixedtree.build(base)
    return base


@pytest.mark.slow
def test_mixed_tree_holds_what_the_issue_names(base: Path) -> None:
    state = treestate.capture(mixedtree.work(base))
    root = {rel: e for rel, e in state.entries.items() if rel.startswith(b"root/")}
    assert 1000 <= len(root) <= 3000, len(root)
    kinds = Counter(stat.S_IFMT(e.kind) for e in root.values())
    assert kinds[stat.S_IFIFO] == 1 and kinds[stat.S_IFLNK] >= 4, kinds
    tags = {rel.rsplit(b".", 2)[-2] for rel in root if b"/__pycache__/" in rel}
    assert {b"cpython-%d" % v for v in (36, 37, 38, 39, 310, 311, 312, 313)} <= tags, tags
    assert any(rel.endswith(b"/common/mod.pyc") for rel in root)  # Python 2.7's
    flags = Counter(e.head[4] for rel, e in root.items() if rel.endswith(b".pyc"))
    assert flags[0] > 100 and flags[1] >= 2 and flags[3] >= 5, flags  # unchecked, checked hash
    opt = [g for g in state.groups if any(b".opt-" in n for n in g)]
    assert len(opt) > 50, "compileall --hardlink-dupes made few groups"
    assert any(any(n.startswith(b"outside/") for n in g) for g in state.groups)
    assert any(e.xattrs for e in root.values()) and any(e.uid == 4321 for e in root.values())
    assert any(b"\n" in rel for rel in root) and any(b"\xff" in rel for rel in root)
    epoch = mixedtree.EPOCH * NS
    dirs = [e.mtime_ns for e in root.values() if stat.S_ISDIR(e.kind)]
    assert min(dirs) < epoch < max(dirs)
    suffixes = (b".gz", b".zip", b".jar", b".whl", b".a", b".cache-8")
    assert all(any(rel.endswith(suffix) for rel in root) for suffix in suffixes)
    audit = rootnorm("--check", "--profile", "audit", "--fail-on", "fontconfig-stale",
                     str(mixedtree.root_of(base)))  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr  # fc-cache's caches are current


_references: dict[Config, Reference] = {}


def _reference(base: Path, config: Config) -> Reference:
    if config not in _references:
        _references[config] = killrun.reference(base, config)
    return _references[config]


def _sigkills(base: Path, config: Config) -> None:
    """Trials until KILLS runs were killed before their end."""
    ref = _reference(base, config)
    rng = random.Random(f"{SEED}-{config.name}")
    failed: list[Trial] = []
    kills = trials = 0
    while kills < KILLS:
        result = killrun.trial(base, config, ref, rng, trials, signal.SIGKILL)
        kills += result.kills
        trials += 1
        if result.problems:
            failed.append(result)
            print(result.describe())
    figures = killrun.figures(failed)
    print(f"\n{config.name}: seed {SEED}, {kills} SIGKILLs in {trials} trials, uninterrupted "
          f"run {ref.seconds:.2f} s; {len(failed)} trials failed: {figures}")  # fmt: skip
    assert not failed, (
        f"ROOTNORM_KILL_SEED={SEED} {config.name}: {len(failed)} of {trials} trials failed "
        f"({figures}):\n" + "\n".join(t.describe() for t in failed[:3])
    )


CONFIGS = [
    pytest.param(Config(profile, jobs), id=f"{profile}-jobs{jobs}")
    for profile in ("ostree", "rpm")
    for jobs in (1, 2)
]


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_random_sigkills_then_one_run_converge(base: Path, config: Config) -> None:
    _sigkills(base, config)


# Signals arrive at fixed points, by strace (inject=SYSCALL:signal=SIG:when=N), to the process
# making the call: in the pyc header pass, in the mtime pass, at the first rename.
SIGNAL_POINTS = (("pwrite64", "middle"), ("utimensat", "middle"))
_counted: dict[tuple[str, int], list[tuple[int, bytes]]] = {}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "jobs"),
    [("INT", 1), ("INT", 2), ("TERM", 1), ("TERM", 2), ("HUP", 1)],
)
def test_signal_stops_cleanly_and_rerun_converges(base: Path, sig: str, jobs: int) -> None:
    config = Config("ostree", jobs)
    ref = _reference(base, config)
    failed = []
    for syscall, point in SIGNAL_POINTS:
        if (syscall, jobs) not in _counted:
            _counted[syscall, jobs] = faultrun.tree_calls(base, config, syscall)
        calls = _counted[syscall, jobs]
        assert calls, f"no {syscall} call touches the tree: is it still made?"
        when = faultrun.point(calls, point)
        result = faultrun.signal_case(base, config, ref, sig, syscall, when)
        print("\n" + result.describe())
        if result.problems:
            failed.append(result.describe())
    assert not failed, "\n".join(failed)


@pytest.mark.slow
def test_temp_file_of_a_killed_run_is_reported_then_removed(base: Path) -> None:
    """SIGKILL on the first write leaves the journal (and, later, a temp file); --check, the
    audit and the next run must all see what is left, and the run must remove it."""
    config = Config("ostree", 1)
    root = mixedtree.fresh(base)
    log = base / "kill.log"
    killed = faultrun.strace(config, root, log, "-e", "trace=write",
                             "-e", "inject=write:signal=KILL:when=2")  # fmt: skip
    assert killed.code == -signal.SIGKILL
    left = treestate.own_leftovers(treestate.capture(mixedtree.work(base)))
    assert left, "the killed run left neither its journal nor a temp file"
    names = [os.fsdecode(os.path.basename(rel)) for rel in left]

    def removal(output: str) -> bool:  # not, say, its mtime among the changes
        lines = output.splitlines()
        return all(any(name in line and "remov" in line for line in lines) for name in names)

    check = rootnorm("--check", "--verbose", "--profile", "ostree", str(root))
    assert check.returncode == 1 and removal(check.stdout), check.stdout
    audit = rootnorm("--check", "--verbose", "--profile", "audit", "--fail-on", "all", str(root))
    assert audit.returncode == 1 and removal(audit.stdout), audit.stdout
    done = rootnorm("--profile", "ostree", "--verbose", str(root))
    assert done.returncode == 0 and removal(done.stdout), done.stdout
    assert treestate.own_leftovers(treestate.capture(mixedtree.work(base))) == []


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@pytest.mark.slow
def test_ctrl_c_while_workers_run_stops_cleanly(base: Path) -> None:
    """SIGINT to the whole process group (as a terminal's Ctrl-C) while both workers exist."""
    config = Config("ostree", 2)
    root = mixedtree.fresh(base)
    proc = subprocess.Popen(config.command(root), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=config.env(),
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        pass  # no sleep: a worker just forked (before it set its signals up) is the target
    os.killpg(proc.pid, signal.SIGSTOP)  # so that the workers cannot end before the signal
    assert len(_children(proc.pid)) == 2, "the workers were not seen"
    os.killpg(proc.pid, signal.SIGINT)
    os.killpg(proc.pid, signal.SIGCONT)
    try:
        output = proc.communicate(timeout=30)[0].decode("utf-8", "backslashreplace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the run did not stop within 30 s of Ctrl-C")
    survivors = killrun.survivors(proc.pid, 0.5)  # the parent was alive to end them
    if survivors:
        os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in output, output[-2000:]
    assert proc.returncode == 130, f"exit {proc.returncode}: {output[-2000:]}"
    assert not survivors, "workers outlived the interrupted run by 0.5 s"
    assert treestate.temp_leftovers(treestate.capture(mixedtree.work(base))) == []
