"""Stale bytecode per interpreter on a real compiled tree, without and with rootnorm.

For each pyenv interpreter, its own installed (compiled) standard library is copied into a tree
as `usr/lib/pythonX.Y`. Two copies get ostree checkout mtimes (0, except empty files and
symlinks, which get the time now): one as it is, one after `rootnorm --profile ostree`. The
interpreter then imports a fixed set of modules from each copy (`PYTHONHOME`, `-B -v`) and the
`bytecode is stale` / `has bad mtime` lines are counted.

    python3 benchmarks/stale_modules.py [--versions 2.7,3.6,...] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from ostree_checkout import checkout_mtimes  # noqa: E402 - shared with the tests

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
MODULES = [
    "json",
    "argparse",
    "logging",
    "subprocess",
    "email.parser",
    "xml.dom.minidom",
    "csv",
    "decimal",
    "unittest",
    "tarfile",
    "zipfile",
    "textwrap",
    "difflib",
    "calendar",
    "optparse",
    "pickle",
    "shutil",
    "tempfile",
]
PY3_MODULES = ["asyncio", "pathlib", "concurrent.futures", "urllib.request", "http.client"]


def count(python: Path, home: Path, major: int) -> tuple[int, int]:
    """(valid caches, stale modules) for the import of MODULES from `home`."""
    modules = MODULES + (PY3_MODULES if major >= 3 else [])
    code = "; ".join(f"import {m}" for m in modules)
    proc = subprocess.run(
        [str(python), "-B", "-v", "-c", code],
        env={"PATH": "/usr/bin:/bin", "PYTHONHOME": str(home), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        check=True,
    )
    valid = len(re.findall(r"^# \S+ matches \S+$", proc.stderr, re.M))
    stale = len(re.findall(r"bytecode is stale for|\.py[co] has bad mtime", proc.stderr))
    return valid, stale


def measure(version_dir: Path, scratch: Path) -> dict[str, object]:
    python = version_dir / "bin" / "python"
    libs = sorted(p for p in (version_dir / "lib").glob("python[23].*") if p.is_dir())
    lib = libs[0]
    major = int(lib.name[6])
    results: dict[str, object] = {"version": version_dir.name}
    for label in ("without", "with"):
        home = scratch / label / "usr"
        shutil.copytree(lib, home / "lib" / lib.name, symlinks=True)
        if label == "with":
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-B", "-m", "rootnorm", "--profile", "ostree", str(home.parent)],
                env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                capture_output=True,
                text=True,
                check=False,
            )
            results["seconds"] = round(time.perf_counter() - start, 2)
            results["exit"] = proc.returncode
            results["entries"] = sum(1 for _ in home.rglob("*"))
        checkout_mtimes(home.parent)
        results[label] = count(python, home, major)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default="", help="comma-separated prefixes (default: all)")
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args()
    wanted = [v for v in args.versions.split(",") if v]
    dirs = [
        d
        for d in sorted(PYENV.iterdir(), key=lambda d: [int(x) for x in d.name.split(".")[:2]])
        if (d / "bin" / "python").exists()
        and (not wanted or any(d.name.startswith(v) for v in wanted))
    ]
    lines = [
        "| interpreter | entries | valid / stale without rootnorm | valid / stale with rootnorm "
        "| rootnorm time (s) |",
        "|---|---|---|---|---|",
    ]
    for version_dir in dirs:
        with tempfile.TemporaryDirectory(prefix="stale-") as scratch:
            r = measure(version_dir, Path(scratch))
        without, with_ = r["without"], r["with"]
        lines.append(
            f"| {r['version']} | {r['entries']} | {without[0]} / {without[1]} "  # type: ignore[index]
            f"| {with_[0]} / {with_[1]} | {r['seconds']} |"  # type: ignore[index]
        )
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
