#!/usr/bin/env python3
"""Measure rootnorm against the physical floor and its peers, side by side.

Every measurement is one whole process (interpreter start-up included) on a FRESH ``cp -a`` copy
of a corpus, made before the clock starts, synced to disk and then walked once (lstat of every
entry) so that every contender starts with the same warm page cache: dropping the page cache is
not possible on these machines.  Contenders alternate within each repetition (the order rotates
from one repetition to the next); the tables give medians.

Outputs, in ``--out`` (default ``<cache>/results``): ``results.md`` (a markdown table with
ratios to the floor), ``results.json`` (every sample) and ``time-vs-size.png`` (wall time against
tree size for rootnorm and the floor; needs matplotlib, else it is skipped and the table says so).

Usage::

    python3 benchmarks/run.py [--corpus debian --corpus scaled ...] [--repeat 5] [--jobs-variants]
        [--rootnorm-src DIR] [--archive-profile FILE] [--only NAME ...] [--out DIR]

Corpus names are those of corpus.py, plus ``scaled-K``: the first K copies of ``scaled``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import corpus as corpora

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
SOURCE_DATE_EPOCH = 1_700_000_000
# strip-nondeterminism takes its files on the command line; keep each argv well below ARG_MAX.
ARGV_BUDGET = 100_000
FLOOR = "floor"
# The floor walks what rootnorm's ostree profile walks: it leaves these top-level dirs alone.
OSTREE_EXCLUDES = ("run", "tmp", "var")
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


@dataclass
class Sample:
    """One timed process (or a sequence of processes, summed; peak RSS is the maximum)."""

    wall: float
    cpu: float
    user: float
    sys: float
    maxrss_kb: int | None  # None without GNU time
    returncode: int
    output_tail: str


@dataclass
class Contender:
    """Something to time: commands on a tree, and how the tree is prepared first."""

    name: str
    description: str
    commands: Callable[[Path, list[str]], list[list[str]]]
    env: dict[str, str] = field(default_factory=dict)
    # An untimed command run on the fresh copy first (a "second run" contender).
    prepare: Callable[[Path], list[str]] | None = None
    unavailable: str = ""
    in_plot: bool = False


@dataclass
class Result:
    contender: str
    corpus: str
    entries: int
    description: str
    unavailable: str = ""
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def peak_rss_kb(self) -> int | None:
        known = [s.maxrss_kb for s in self.samples if s.maxrss_kb is not None]
        return max(known) if known else None

    def failures(self) -> list[int]:
        return sorted({s.returncode for s in self.samples if s.returncode != 0})


def run_timed(commands: list[list[str]], env: dict[str, str], log: Path) -> Sample:
    """Run commands one after the other: wall clock, CPU from wait4, peak RSS from GNU time.

    wait4's ru_maxrss cannot be used: Linux keeps the high-water mark of the memory the child
    had before exec, i.e. of THIS process, so every child would report at least our own RSS.
    GNU time is a 1 MB process whose child starts clean; it adds about a millisecond.
    """
    wall = user = system = 0.0
    maxrss = 0
    rc = 0
    child_env = {**os.environ, **env}
    rss_file = log.with_suffix(".rss")
    with open(log, "wb") as out:
        for cmd in commands:
            argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if GNU_TIME else cmd
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=child_env)
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall += time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            user += usage.ru_utime
            system += usage.ru_stime
            if GNU_TIME:
                maxrss = max(maxrss, int(rss_file.read_text().split()[-1]))
            if proc.returncode != 0:
                rc = proc.returncode
                break
    tail = log.read_bytes()[-400:].decode("utf-8", "replace").strip()
    return Sample(wall, user + system, user, system, maxrss if GNU_TIME else None, rc, tail)


def warm_up(root: Path) -> int:
    """lstat every entry once, so that all contenders start from the same warm cache."""
    count = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                entry.stat(follow_symlinks=False)
    return count


@dataclass
class Source:
    """A corpus to copy from: its name, its trees (copied side by side) and its size."""

    name: str
    trees: list[Path]
    entries: int
    archives: list[str]  # root-relative paths, one name per archive inode

    def copy_to(self, dst: Path, sync: bool) -> float:
        start = time.perf_counter()
        if len(self.trees) == 1:
            corpora.fresh_copy(self.trees[0], dst)
        else:
            corpora.remove_tree(dst)
            dst.mkdir(parents=True)
            for tree in self.trees:
                subprocess.run(["cp", "-a", str(tree), str(dst / tree.name)], check=True)
        if sync:
            os.sync()
        return time.perf_counter() - start


def fs_type(path: Path) -> str:
    """The file system type and mount options of the mount holding ``path``."""
    best = ("", "unknown")
    target = str(path.resolve())
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, point, kind, options = line.split()[:4]
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best[0]):
                best = (point, f"{kind} {options}")
    return best[1]


def list_archives(root: Path) -> list[str]:
    found: list[str] = []
    seen: set[int] = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(corpora.ARCHIVE_SUFFIXES):
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode) and st.st_ino not in seen:
                    seen.add(st.st_ino)
                    found.append(os.path.relpath(path, root))
    return sorted(found)


def resolve_source(cache: Path, name: str) -> Source:
    match = re.fullmatch(r"scaled-(\d+)", name)
    if match:
        scaled = corpora.build(cache, "scaled")
        copies = sorted(scaled.root.iterdir(), key=lambda p: int(p.name.split("-")[1]))
        wanted = int(match.group(1))
        if not 1 <= wanted <= len(copies):
            raise SystemExit(f"{name}: the scaled corpus has {len(copies)} copies")
        debian = corpora.build(cache, "debian")
        archives = list_archives(debian.root)
        return Source(
            name,
            copies[:wanted],
            wanted * (debian.stats.entries + 1),
            [f"{c.name}/{a}" for c in copies[:wanted] for a in archives],
        )
    built = corpora.build(cache, name)
    return Source(name, [built.root], built.stats.entries, list_archives(built.root))


def stage_rootnorm(src: Path, stage: Path) -> str:
    """Copy rootnorm and byte-compile it, like an installed package; '' or why it is unusable.

    This host exports PYTHONDONTWRITEBYTECODE=1, so running from a source checkout would compile
    every rootnorm module again at each start and inflate its start-up time.
    """
    package = src / "rootnorm"
    if not package.is_dir():
        return f"no package at {package}"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(package, stage / "rootnorm", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([PY, "-m", "compileall", "-q", str(stage / "rootnorm")], check=True)
    probe = subprocess.run(
        [PY, "-B", "-m", "rootnorm", "--help"],
        env={**os.environ, "PYTHONPATH": str(stage)},
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        lines = (probe.stderr or probe.stdout).strip().splitlines() or ["no output"]
        return f"`rootnorm --help` exited {probe.returncode}: {lines[-1]}"
    return ""


def describe_source(src: Path) -> str:
    """``src`` and, when it is in a git checkout, its commit (``+dirty`` with local changes)."""
    git = ["git", "-C", str(src)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return str(src)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True)
    return f"{src} at {head.stdout.strip()}" + ("+dirty" if dirty.stdout else "")


def strip_nd_commands(tree: Path, archives: list[str]) -> list[list[str]]:
    base = ["strip-nondeterminism", "-T", str(SOURCE_DATE_EPOCH), "--normalizers=+ar"]
    commands: list[list[str]] = []
    chunk: list[str] = []
    size = 0
    for rel in archives:
        path = str(tree / rel)
        if chunk and size + len(path) > ARGV_BUDGET:
            commands.append(base + chunk)
            chunk, size = [], 0
        chunk.append(path)
        size += len(path) + 1
    if chunk:
        commands.append(base + chunk)
    return commands


def system_roots(tree: Path) -> list[str]:
    """``tree`` itself, or for a scaled tree its copies: the dirs that hold a ``usr/``."""
    if (tree / "usr").is_dir():
        return [str(tree)]
    return sorted(str(p) for p in tree.iterdir() if (p / "usr").is_dir())


def contenders(
    stage: Path,
    rootnorm_missing: str,
    archive_profile: Path | None,
    jobs_variants: bool,
    other_python: str | None = None,
) -> list[Contender]:
    def rootnorm(*args: str, python: str = PY) -> Callable[[Path], list[str]]:
        return lambda tree: [python, "-B", "-m", "rootnorm", *args, str(tree)]

    def one(make: Callable[[Path], list[str]]) -> Callable[[Path, list[str]], list[list[str]]]:
        return lambda tree, _archives: [make(tree)]

    excludes = [arg for name in OSTREE_EXCLUDES for arg in ("--exclude", name)]
    floor = one(lambda tree: [PY, "-B", str(HERE / "floor.py"), *excludes, str(tree)])
    rn_env = {"PYTHONPATH": str(stage)}
    rpm_env = {**rn_env, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
    ostree = rootnorm("--profile", "ostree")
    pyc_mtime_profile = str(HERE / "profiles" / "pyc-mtime.toml")
    listed = [
        Contender(
            FLOOR,
            "bare scandir walk (not run/, tmp/, var/): lstat, 16-byte pyc reads, writes, utime",
            floor,
            in_plot=True,
        ),
        Contender(
            "floor 2nd run",
            "the floor on a tree it already processed",
            floor,
            prepare=lambda tree: floor(tree, [])[0],
        ),
        Contender(
            "naive",
            "Fedora-style inline fix: pycs under usr/ only, no mtimes",
            one(lambda tree: [PY, "-B", str(HERE / "naive.py"), *system_roots(tree)]),
        ),
        Contender(
            "rootnorm ostree",
            "--profile ostree",
            one(ostree),
            rn_env,
            unavailable=rootnorm_missing,
            in_plot=True,
        ),
        Contender(
            "rootnorm pyc+mtime",
            "--profile benchmarks/profiles/pyc-mtime.toml: exactly the floor's work",
            one(rootnorm("--profile", pyc_mtime_profile)),
            rn_env,
            unavailable=rootnorm_missing,
            in_plot=True,
        ),
        Contender(
            "rootnorm ostree 2nd run",
            "--profile ostree on a tree it already processed",
            one(ostree),
            rn_env,
            prepare=ostree,
            unavailable=rootnorm_missing,
        ),
        Contender(
            "rootnorm rpm",
            f"--profile rpm, SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH}",
            one(rootnorm("--profile", "rpm")),
            rpm_env,
            unavailable=rootnorm_missing,
        ),
    ]
    hashed = str(HERE / "profiles" / "checked-hash.toml")
    listed.append(
        Contender(
            "rootnorm checked-hash",
            "--profile benchmarks/profiles/checked-hash.toml: every pyc hashed (its own in C)",
            one(rootnorm("--profile", hashed)),
            rn_env,
            unavailable=rootnorm_missing,
        )
    )
    no_other = rootnorm_missing or ("" if other_python else "no --other-python given")
    for jobs in ("1", "2") if jobs_variants else ("1",):
        listed.append(
            Contender(
                "rootnorm checked-hash, other Python" + ("" if jobs == "1" else " -j2"),
                f"the same run by {other_python}: every source hashed in pure Python "
                f"(CPU-bound), --jobs {jobs}",
                one(rootnorm("--profile", hashed, "--jobs", jobs, python=other_python or PY)),
                rn_env,
                unavailable=no_other,
            )
        )
    if jobs_variants:
        listed += [
            Contender(
                "rootnorm pyc+mtime -j2",
                "the same with --jobs 2: the pyc-heavy case, which must not get slower",
                one(rootnorm("--profile", pyc_mtime_profile, "--jobs", "2")),
                rn_env,
                unavailable=rootnorm_missing,
            ),
            Contender(
                "rootnorm checked-hash -j2",
                "the same with --jobs 2",
                one(rootnorm("--profile", hashed, "--jobs", "2")),
                rn_env,
                unavailable=rootnorm_missing,
            ),
            Contender(
                "rootnorm ostree -j2",
                "--profile ostree --jobs 2",
                one(rootnorm("--profile", "ostree", "--jobs", "2")),
                rn_env,
                unavailable=rootnorm_missing,
            ),
            Contender(
                "rootnorm rpm -j2",
                "--profile rpm --jobs 2",
                one(rootnorm("--profile", "rpm", "--jobs", "2")),
                rpm_env,
                unavailable=rootnorm_missing,
            ),
        ]
    strip_nd = shutil.which("strip-nondeterminism")
    listed.append(
        Contender(
            "strip-nondeterminism archives",
            f"-T {SOURCE_DATE_EPOCH} +ar, on every *.gz *.jar *.zip *.a (no recursion)",
            strip_nd_commands,
            unavailable="" if strip_nd else "strip-nondeterminism not installed",
        )
    )
    no_profile = rootnorm_missing or ("" if archive_profile else "no --archive-profile given")
    profile = str(archive_profile)
    listed.append(
        Contender(
            "rootnorm archives",
            f"--profile {profile}",
            one(rootnorm("--profile", profile)),
            rpm_env,
            unavailable=no_profile,
        )
    )
    if jobs_variants:
        listed.append(
            Contender(
                "rootnorm archives -j2",
                f"--profile {profile} --jobs 2",
                one(rootnorm("--profile", profile, "--jobs", "2")),
                rpm_env,
                unavailable=no_profile,
            )
        )
    return listed


def measure(
    sources: list[Source], listed: list[Contender], repeat: int, scratch: Path, sync: bool
) -> tuple[list[Result], dict[str, list[float]]]:
    results: list[Result] = []
    copy_seconds: dict[str, list[float]] = {}
    tree = scratch / "tree"
    log = scratch / "output.log"
    for source in sources:
        by_name = {
            c.name: Result(c.name, source.name, source.entries, c.description, c.unavailable)
            for c in listed
        }
        results += by_name.values()
        runnable = [c for c in listed if not c.unavailable]
        copies = copy_seconds.setdefault(source.name, [])
        for rep in range(repeat):
            order = runnable[rep % len(runnable) :] + runnable[: rep % len(runnable)]
            for contender in order:
                copies.append(source.copy_to(tree, sync))
                if contender.prepare is not None:
                    subprocess.run(
                        contender.prepare(tree),
                        env={**os.environ, **contender.env},
                        stdout=subprocess.DEVNULL,
                        check=False,
                    )
                    if sync:
                        os.sync()
                warm_up(tree)
                sample = run_timed(contender.commands(tree, source.archives), contender.env, log)
                by_name[contender.name].samples.append(sample)
                print(
                    f"[{source.name} {rep + 1}/{repeat}] {contender.name}: "
                    f"{sample.wall:.3f} s wall, {sample.cpu:.3f} s CPU, "
                    f"{_mb(sample.maxrss_kb)} MB, exit {sample.returncode}",
                    flush=True,
                )
        corpora.remove_tree(tree)
    return results, copy_seconds


def _mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f}"


def markdown(
    results: list[Result],
    sources: list[Source],
    copy_seconds: dict[str, list[float]],
    meta: dict[str, object],
    plot_note: str,
) -> str:
    lines = [
        "# rootnorm benchmarks",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"rootnorm: {meta['rootnorm']}  ",
        f"Repetitions: {meta['repeat']} per contender and corpus, alternating; medians shown.  ",
        f"Each run is a whole process on a fresh `cp -a` copy in `{meta['scratch']}` "
        f"({meta['scratch_fs']})"
        + (", synced to disk" if meta["sync"] else " (NOT synced)")
        + ", walked once beforehand (lstat of every entry) so every contender sees the same "
        "warm page cache; the page cache is never dropped.  ",
        "CPU is user+sys of the process and its reaped children (wait4); peak RSS is the "
        "largest single process, not a sum over workers.  ",
        plot_note,
        "",
        "| corpus | entries | fresh copy: rm old + cp -a + sync (median) |",
        "|---|---:|---:|",
    ]
    for source in sources:
        secs = copy_seconds.get(source.name) or [0.0]
        lines.append(f"| {source.name} | {source.entries:,} | {statistics.median(secs):.2f} s |")
    lines += [
        "",
        "| corpus | contender | wall (s) | x floor | CPU (s) | peak RSS (MB) | runs | notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    floors = {r.corpus: r.median("wall") for r in results if r.contender == FLOOR and r.samples}
    for r in results:
        if r.unavailable or not r.samples:
            reason = r.unavailable or "not run"
            lines.append(
                f"| {r.corpus} | {r.contender} | - | - | - | - | 0 | not available: {reason} |"
            )
            continue
        wall = r.median("wall")
        floor = floors.get(r.corpus)
        ratio = f"{wall / floor:.2f}" if floor else "-"
        failed = r.failures()
        note = r.description + (f"; NONZERO EXIT {failed}" if failed else "")
        lines.append(
            f"| {r.corpus} | {r.contender} | {wall:.3f} | {ratio} | {r.median('cpu'):.3f} | "
            f"{_mb(r.peak_rss_kb())} | {len(r.samples)} | {note} |"
        )
    return "\n".join(lines) + "\n"


def plot(results: list[Result], listed: list[Contender], path: Path) -> str:
    """Write the time-against-size PNG; return a sentence for the report."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "No plot: matplotlib is not installed (`pip install matplotlib`)."
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = 0
    for contender in (c for c in listed if c.in_plot):
        points = sorted(
            (r.entries, r.median("wall"))
            for r in results
            if r.contender == contender.name and r.samples
        )
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=contender.name)
            drawn += 1
    if not drawn:
        plt.close(fig)
        return "No plot: nothing to draw."
    ax.set_xlabel("tree size (entries)")
    ax.set_ylabel("wall time, median (s)")
    ax.set_title("rootnorm and the physical floor, fresh copy, warm cache")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"Plot: `{path.name}`."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=corpora.default_cache())
    parser.add_argument(
        "--corpus",
        action="append",
        dest="corpora",
        help="tiny, debian, scaled or scaled-K; repeatable (default: debian, scaled)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per contender (default 5)")
    parser.add_argument("--only", action="append", help="run only these contenders (repeatable)")
    parser.add_argument(
        "--no-jobs-variants",
        dest="jobs_variants",
        action="store_false",
        help="skip the --jobs 2 contenders",
    )
    parser.add_argument(
        "--rootnorm-src",
        type=Path,
        default=REPO / "src",
        help="directory holding the rootnorm package (default: this repo's src)",
    )
    parser.add_argument(
        "--archive-profile",
        type=Path,
        default=HERE / "profiles" / "archives.toml",
        help="a rootnorm profile that only normalises archives, for the 'rootnorm archives' "
        "contenders (default: benchmarks/profiles/archives.toml)",
    )
    parser.add_argument(
        "--no-sync",
        dest="sync",
        action="store_false",
        help="do not sync after each fresh copy (faster, noisier)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        help="where fresh copies go (default <cache>/scratch, the corpus's file system; "
        "/dev/shm is much cheaper to copy to and delete from, but measures tmpfs)",
    )
    parser.add_argument("--out", type=Path, help="output directory (default <cache>/results)")
    parser.add_argument(
        "--other-python",
        help="another CPython than the corpus's (with rootnorm's dependencies installed), for "
        "the 'checked-hash, other Python' contenders: it hashes every source in pure Python",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    out: Path = args.out or args.cache / "results"
    out.mkdir(parents=True, exist_ok=True)
    sources = [resolve_source(args.cache, n) for n in args.corpora or ["debian", "scaled"]]
    for source in sources:
        print(
            f"corpus {source.name}: {source.entries} entries, {len(source.archives)} archives",
            flush=True,
        )
    stage = args.cache / "rootnorm-stage"
    rootnorm_source = describe_source(args.rootnorm_src.resolve())
    missing = stage_rootnorm(args.rootnorm_src.resolve(), stage)
    if missing:
        print(f"rootnorm not available: {missing}", flush=True)
    listed = contenders(stage, missing, args.archive_profile, args.jobs_variants, args.other_python)
    if args.only:
        unknown = set(args.only) - {c.name for c in listed}
        if unknown:
            parser.error(f"unknown contenders {sorted(unknown)}; known: {[c.name for c in listed]}")
        listed = [c for c in listed if c.name in args.only]
    scratch_base: Path = args.scratch or args.cache / "scratch"
    scratch_base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_base) as scratch:
        results, copy_seconds = measure(sources, listed, args.repeat, Path(scratch), args.sync)
    meta: dict[str, object] = {
        "command": " ".join(["python3", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "rootnorm": rootnorm_source,
        "repeat": args.repeat,
        "sync": args.sync,
        "scratch": str(scratch_base),
        "scratch_fs": fs_type(scratch_base),
        "source_date_epoch": SOURCE_DATE_EPOCH,
        "warm_cache": "one lstat walk of each fresh copy before timing; page cache not dropped",
    }
    (out / "time-vs-size.png").unlink(missing_ok=True)
    plot_note = plot(results, listed, out / "time-vs-size.png")
    (out / "results.md").write_text(markdown(results, sources, copy_seconds, meta, plot_note))
    data = {
        "version": 1,
        **meta,
        "plot": plot_note,
        "corpora": {
            s.name: {
                "entries": s.entries,
                "archives": len(s.archives),
                "copy_seconds": copy_seconds.get(s.name, []),
            }
            for s in sources
        },
        "results": [{**asdict(r), "samples": [asdict(s) for s in r.samples]} for r in results],
    }
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    print((out / "results.md").read_text())
    print(
        f"written: {out}/results.md, results.json"
        + (", time-vs-size.png" if (out / "time-vs-size.png").exists() else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
