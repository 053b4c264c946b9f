"""Trees of real modules compiled by real interpreters, and what those interpreters say of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from testlib import clean_env, interpreter

# Interpreters spanning every header layout: 8 bytes (2.7), 12 bytes (3.6), 16 bytes (3.8+),
# and both SipHash variants for checked-hash pycs (3.8: 2-4, 3.11+: 1-3).
VERSIONS = ("2.7", "3.6", "3.8", "3.11", "3.13")
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"  # the Python that runs rootnorm here


def hash_capable(version: str) -> bool:
    """PEP 552: checked-hash pycs exist from 3.7."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= (3, 7)


SITE = "usr/lib/pyapp"
EDITED_NEW = "VALUE = 'new'\n"  # same size as the compiled text, "VALUE = 'old'\n"


@dataclass(frozen=True)
class ImportResult:
    matches: int
    stale: list[str]
    output: str


def build(root: Path, versions: tuple[str, ...] = VERSIONS) -> None:
    """A site dir with package `common` (every interpreter) and `empties` (3.7+ only).

    `common/edited.py` is edited after compiling, keeping its size: every pyc of it is stale.
    `empties` has empty `__init__.py` files (ostree checks empty files out with the checkout
    time). `common/hashed.py` gets checked-hash pycs from the hash-capable interpreters.
    """
    site = root / SITE
    common = site / "common"
    empties = site / "empties" / "sub"
    common.mkdir(parents=True)
    empties.mkdir(parents=True)
    (common / "__init__.py").write_text("NAME = 'common'\n")
    (common / "mod.py").write_text("def f():\n    return 42\n")
    (common / "edited.py").write_text("VALUE = 'old'\n")
    (common / "hashed.py").write_text("H = 1\n")
    (site / "empties" / "__init__.py").write_text("")
    (empties / "__init__.py").write_text("")
    (empties / "leaf.py").write_text("LEAF = True\n")
    for version in versions:
        python = str(interpreter(version))
        targets = [str(common / n) for n in ("__init__.py", "mod.py", "edited.py")]
        run([python, "-m", "compileall", "-q", *targets])
        if hash_capable(version):
            run([python, "-m", "compileall", "-q", str(site / "empties")])
            run(
                [
                    python,
                    "-m",
                    "compileall",
                    "-q",
                    "--invalidation-mode",
                    "checked-hash",
                    str(common / "hashed.py"),
                ]
            )
        else:
            run([python, "-m", "compileall", "-q", str(common / "hashed.py")])
    edited = common / "edited.py"
    compiled_at = edited.stat().st_mtime_ns
    edited.write_text(EDITED_NEW)
    os.utime(edited, ns=(compiled_at + 100 * 10**9, compiled_at + 100 * 10**9))


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, env=clean_env(), capture_output=True)


def import_all(root: Path, version: str) -> ImportResult:
    """Import every module with `-B -v`; count valid caches and the modules found stale."""
    modules = ["common", "common.mod", "common.edited", "common.hashed"]
    if hash_capable(version):
        modules += ["empties", "empties.sub", "empties.sub.leaf"]
    code = "; ".join(f"import {m}" for m in modules) + "; print(common.edited.VALUE)"
    proc = subprocess.run(
        [str(interpreter(version)), "-B", "-v", "-c", code],
        env=clean_env(PYTHONPATH=str(root / SITE)),
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    site = str(root / SITE)
    lines = [line for line in proc.stderr.splitlines() if site in line or "stale" in line]
    matches = sum(1 for line in lines if line.startswith("# ") and " matches " in line)
    stale = re.findall(r"bytecode is stale for '([^']+)'", proc.stderr)
    # Python 2 says "# /x/edited.pyc has bad mtime" instead
    stale += [m.rsplit("/", 1)[-1] for m in re.findall(r"# (\S+)\.pyc has bad mtime", proc.stderr)]
    return ImportResult(matches, stale, proc.stdout.strip())


def expected_modules(version: str) -> int:
    return 7 if hash_capable(version) else 4


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)
