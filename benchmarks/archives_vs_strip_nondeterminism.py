"""Time rootnorm's archive handlers against Debian's strip-nondeterminism on the same archives.

Builds one corpus (gzip'd man pages, jars, static libraries; optionally zip64 zips and EPUBs,
which rootnorm finds by content), copies it twice, and runs both tools as whole processes, one
after the other in the same run:

    rootnorm --profile <archives-only profile> --source-date-epoch E ROOT
    strip-nondeterminism --timestamp E --normalizers=+all FILE...   (one process, every file)

Also timed, in this process: rootnorm's format code alone (plan, compare, produce into a
discarding sink), which leaves out start-up, the walk and the writer's fsyncs.

Usage: python benchmarks/archives_vs_strip_nondeterminism.py [--gz N] [--jars N] [--libs N]
           [--zip64 N] [--epubs N]
(`--gz 0 --jars 0 --libs 0 --zip64 40` times one kind alone.)
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from functools import partial
from pathlib import Path

EPOCH = 1_700_000_000
BUILD = 1_750_000_000
SRC = Path(__file__).resolve().parent.parent / "src"
PROFILE = """\
description = "archive handlers only (benchmark)"
[mtime]
policy = "clamp"
[[handler]]
name = "gzip"
[[handler]]
name = "zip"
by_content = true
[[handler]]
name = "ar"
"""


def _text(rng: random.Random, size: int) -> bytes:
    words = [b"root", b"norm", b"image", b"build", b"archive", b"time", b"stamp", b"tree"]
    return b" ".join(rng.choice(words) for _ in range(size // 5))


def _zips(root: Path, rng: random.Random, zip64: int, epubs: int) -> list[Path]:
    """zip64 zips (Python's force_zip64 on every entry) and EPUBs (mimetype first, stored)."""
    files = []
    when = time.gmtime(BUILD)[:6]
    data = root / "usr/share/data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(zip64):
        path = data / f"set{i}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for k in range(rng.randint(50, 400)):
                info = zipfile.ZipInfo(f"c/{k % 9}/{k}", when)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as out:
                    out.write(_text(rng, rng.randint(500, 8_000)))
        files.append(path)
    for i in range(epubs):
        path = data / f"book{i}.epub"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo("mimetype", when), "application/epub+zip", 0)
            for k in range(rng.randint(20, 200)):
                info = zipfile.ZipInfo(f"OEBPS/ch{k}.xhtml", when)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, _text(rng, rng.randint(2_000, 20_000)))
        files.append(path)
    return files


def corpus(root: Path, gz: int, jars: int, libs: int, zip64: int, epubs: int) -> list[Path]:
    rng = random.Random(42)
    files = []
    man = root / "usr/share/man/man1"
    man.mkdir(parents=True)
    for i in range(gz):
        path = man / f"page{i}.1.gz"
        with path.open("wb") as raw, gzip.GzipFile(f"page{i}.1", "wb", 9, raw, BUILD) as out:
            out.write(_text(rng, rng.randint(1_000, 20_000)))
        files.append(path)
    java = root / "usr/share/java"
    java.mkdir(parents=True)
    when = time.gmtime(BUILD)[:6]
    for i in range(jars):
        path = java / f"lib{i}.jar"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as jar:
            manifest = "Manifest-Version: 1.0\r\nBuilt-By: bench\r\n\r\n"
            jar.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", when), manifest)
            for k in range(rng.randint(50, 400)):
                info = zipfile.ZipInfo(f"org/bench/p{k % 7}/C{k}.class", when)
                info.compress_type = zipfile.ZIP_DEFLATED
                jar.writestr(info, _text(rng, rng.randint(500, 8_000)))
        files.append(path)
    lib = root / "usr/lib64"
    lib.mkdir(parents=True)
    for i in range(libs):
        names = []
        for k in range(20):
            member = lib / f"m{k}.o"
            member.write_bytes(_text(rng, rng.randint(1_000, 10_000)))
            os.utime(member, (BUILD, BUILD))
            names.append(member.name)
        subprocess.run(["ar", "rcU", f"lib{i}.a", *names], cwd=lib, check=True)
        for name in names:
            (lib / name).unlink()
        files.append(lib / f"lib{i}.a")
    return files + _zips(root, rng, zip64, epubs)


class _Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


def format_code(files: list[Path]) -> float:
    """Seconds rootnorm's planners take to plan, compare and produce every file."""
    sys.path.insert(0, str(SRC))
    from rootnorm.archives import arfmt, gzipfmt, zipfmt
    from rootnorm.clock import Clock, Policy

    target = Clock(Policy.CLAMP, EPOCH).final_seconds
    planners = {
        ".gz": partial(gzipfmt.plan, target=target),
        ".jar": partial(zipfmt.plan, target=target, opts=zipfmt.Options()),
        ".zip": partial(zipfmt.plan, target=target, opts=zipfmt.Options()),
        ".epub": partial(zipfmt.plan, target=target, opts=zipfmt.Options(by_content=True)),
        ".a": partial(arfmt.plan, target=target),
    }
    start = time.perf_counter()
    for path in files:
        with path.open("rb") as src:
            size = os.fstat(src.fileno()).st_size
            plan = planners[path.suffix](src, size)
            if plan is not None and not plan.same_as(src, size):
                plan.write(src, _Sink())  # type: ignore[arg-type]
    return time.perf_counter() - start


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gz", type=int, default=1000)
    parser.add_argument("--jars", type=int, default=40)
    parser.add_argument("--libs", type=int, default=40)
    parser.add_argument("--zip64", type=int, default=0)
    parser.add_argument("--epubs", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("strip-nondeterminism") is None:
        print("strip-nondeterminism is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        files = corpus(base / "corpus", args.gz, args.jars, args.libs, args.zip64, args.epubs)
        size = sum(f.stat().st_size for f in files)
        shutil.copytree(base / "corpus", base / "rootnorm", symlinks=True)
        shutil.copytree(base / "corpus", base / "strip", symlinks=True)
        profile = base / "archives.toml"
        profile.write_text(PROFILE)
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        ours = timed(
            [
                sys.executable,
                "-m",
                "rootnorm",
                "--profile",
                str(profile),
                "--quiet",
                "--source-date-epoch",
                str(EPOCH),
                str(base / "rootnorm"),
            ],
            env,
        )
        theirs = timed(
            [
                "strip-nondeterminism",
                "--timestamp",
                str(EPOCH),
                "--normalizers=+all",
                *(str(base / "strip" / f.relative_to(base / "corpus")) for f in files),
            ]
        )
        alone = format_code(files)
        changed = sum(
            (base / "rootnorm" / f.relative_to(base / "corpus")).read_bytes() != f.read_bytes()
            for f in files
        )
    print(
        f"corpus: {args.gz} gzip, {args.jars} jars, {args.libs} static libs, {args.zip64} zip64, "
        f"{args.epubs} epub, {size / 1e6:.1f} MB; rootnorm changed {changed} of {len(files)}"
    )
    mb = size / 1e6
    print(f"per MB: rootnorm {ours / mb * 1e3:.1f} ms, format code {alone / mb * 1e3:.1f} ms, ")
    print(f"        strip-nondeterminism {theirs / mb * 1e3:.1f} ms")
    print(f"rootnorm (archive handlers, one process):   {ours:7.2f} s")
    print(f"strip-nondeterminism (one process, all files): {theirs:7.2f} s")
    print(f"rootnorm format code alone (in process):    {alone:7.2f} s")
    print(f"ratio, whole processes: strip-nondeterminism takes {theirs / ours:.1f}x as long")
    print(f"ratio, format code:     strip-nondeterminism takes {theirs / alone:.1f}x as long")
    return 0


if __name__ == "__main__":
    sys.exit(main())
