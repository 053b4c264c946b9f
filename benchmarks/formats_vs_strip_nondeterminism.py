"""Time rootnorm's mo, png and javadoc handlers against strip-nondeterminism on the same files.

Builds one corpus per format with the real tools (msgfmt, ImageMagick's convert, javadoc), all
carrying times newer than SOURCE_DATE_EPOCH, copies it twice, and runs both tools on each
format as whole processes:

    rootnorm --profile <that handler only> --source-date-epoch E ROOT
    strip-nondeterminism --timestamp E --normalizers=+all FILE...   (one process, every file)

Also timed, in this process: rootnorm's format code alone (plan, compare, produce into a
discarding sink). Figures are seconds and milliseconds per MB of input; medians of --repeat.

Usage: python benchmarks/formats_vs_strip_nondeterminism.py [--files N] [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

EPOCH = 1_700_000_000
BUILD = "2025-07-15 18:31:07"
SRC = Path(__file__).resolve().parent.parent / "src"
SUFFIX = {"mo": ".mo", "png": ".png", "javadoc": ".html"}


def _profile(handler: str) -> str:
    return f'description = "{handler} only (benchmark)"\n[[handler]]\nname = "{handler}"\n'


def _env() -> dict[str, str]:
    return {**os.environ, "TZ": "UTC", "LC_ALL": "C", "NO_FAKE_STAT": "1"}


def _mo(work: Path, out: Path, files: int) -> None:
    lines = [
        'msgid ""',
        'msgstr ""',
        '"PO-Revision-Date: 2025-07-15 18:31+0000\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        "",
    ]
    for i in range(2000):
        lines += [f'msgid "message number {i} of the demo program"', f'msgstr "Meldung {i}"', ""]
    (work / "de.po").write_text("\n".join(lines))
    subprocess.run(["msgfmt", "-o", str(work / "de.mo"), str(work / "de.po")], check=True)
    for i in range(files):
        shutil.copy(work / "de.mo", out / f"m{i}.mo")


def _png(work: Path, out: Path, files: int) -> None:
    kinds = [
        ("64x64", "gradient:red-blue"),
        ("256x256", "plasma:fractal"),
        ("800x600", "plasma:fractal"),
        ("48x48", "xc:red"),
    ]
    for k, (size, what) in enumerate(kinds):
        convert = [
            "/usr/bin/convert",
            "-seed",
            str(k),
            "-size",
            size,
            what,
            str(work / f"k{k}.png"),
        ]
        subprocess.run(["faketime", BUILD, *convert], check=True, env=_env())
    for i in range(files):
        shutil.copy(work / f"k{i % len(kinds)}.png", out / f"p{i}.png")


def _javadoc(work: Path, out: Path, files: int) -> None:
    src = work / "src/demo"
    src.mkdir(parents=True)
    for c in range(20):
        methods = "".join(
            f"  /** Method {m}. @return {m} */ public int m{m}() {{ return {m}; }}\n"
            for m in range(30)
        )
        body = f"package demo;\n/** Class {c}. */\npublic class C{c} {{\n{methods}}}\n"
        (src / f"C{c}.java").write_text(body)
    api = work / "api"
    javadoc = ["javadoc", "-quiet", "-d", str(api), "-sourcepath", str(work / "src"), "demo"]
    subprocess.run(["faketime", BUILD, *javadoc], check=True, env=_env(), capture_output=True)
    pages = sorted(api.rglob("*.html"))
    for i in range(files):
        shutil.copy(pages[i % len(pages)], out / f"h{i}.html")


class _Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


def _format_code(fmt: str, files: list[Path]) -> float:
    sys.path.insert(0, str(SRC))
    from rootnorm.clock import Clock, Policy
    from rootnorm.formats import javadocfmt, mofmt, pngfmt

    module = {"mo": mofmt, "png": pngfmt, "javadoc": javadocfmt}[fmt]
    planner = partial(module.plan, target=Clock(Policy.CLAMP, EPOCH).final_seconds)
    start = time.perf_counter()
    for path in files:
        with path.open("rb") as src:
            size = os.fstat(src.fileno()).st_size
            plan = planner(src, size)
            if plan is not None and not plan.same_as(src, size):
                plan.write(src, _Sink())  # type: ignore[arg-type]
    return time.perf_counter() - start


def _timed(args: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, check=False, env=env, stdout=subprocess.DEVNULL)
    if done.returncode not in ok:
        raise SystemExit(f"{args[0]} exited {done.returncode}")
    return time.perf_counter() - start


def measure(fmt: str, base: Path, files: int, repeat: int) -> str:
    corpus = base / fmt / "corpus"
    corpus.mkdir(parents=True)
    work = base / fmt / "work"
    work.mkdir()
    {"mo": _mo, "png": _png, "javadoc": _javadoc}[fmt](work, corpus, files)
    paths = sorted(corpus.iterdir())
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    profile = base / fmt / "profile.toml"
    profile.write_text(_profile(fmt))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    ours, checked, theirs, alone = [], [], [], []
    copies = {who: base / fmt / who for who in ("rootnorm", "strip")}
    for _ in range(repeat):
        for copy in copies.values():
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(corpus, copy)
        rootnorm = [sys.executable, "-m", "rootnorm", "--profile", str(profile), "--quiet"]
        rootnorm += ["--source-date-epoch", str(EPOCH)]
        checked.append(_timed([*rootnorm, "--check", str(copies["rootnorm"])], env, (0, 1)))
        ours.append(_timed([*rootnorm, str(copies["rootnorm"])], env))
        strip = ["strip-nondeterminism", "--timestamp", str(EPOCH), "--normalizers=+all"]
        theirs.append(_timed([*strip, *(str(copies["strip"] / p.name) for p in paths)]))
        alone.append(_format_code(fmt, paths))
    changed, theirs_changed = (
        sum((copies[who] / p.name).read_bytes() != p.read_bytes() for p in paths)
        for who in ("rootnorm", "strip")
    )
    o, c, t, a = (statistics.median(x) for x in (ours, checked, theirs, alone))
    cells = [f"{x:.2f} ({x / megabytes * 1000:.0f})" for x in (o, c, t)]
    return (
        f"| {fmt} | {len(paths)} | {megabytes:.1f} | {changed} / {theirs_changed} | "
        f"{' | '.join(cells)} | {a:.3f} ({a / megabytes * 1000:.1f}) | {t / o:.1f}x |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=400, help="files per format")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", choices=sorted(SUFFIX), help="formats")
    args = parser.parse_args()
    for tool in ("strip-nondeterminism", "msgfmt", "javadoc", "faketime"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    if not os.path.exists("/usr/bin/convert"):
        print("ImageMagick's /usr/bin/convert is not installed", file=sys.stderr)
        return 2
    print(
        "| format | files | MB | changed (rootnorm / strip-nd) | rootnorm s (ms/MB) "
        "| rootnorm --check | strip-nondeterminism | rootnorm format code | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.only or ("mo", "png", "javadoc"):
            print(measure(fmt, Path(tmp), args.files, args.repeat), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
