"""Shared test tools: run the real CLI, find the real interpreters, snapshot trees.

A module of its own (not conftest.py): with several conftest.py files, `from conftest import`
reaches whichever pytest imported first."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
NS = 1_000_000_000


def rootnorm(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    uid: int | None = None,
    python: str = sys.executable,
) -> subprocess.CompletedProcess[str]:
    """Run the real command line (`python -B -m rootnorm`) in a subprocess (in `cwd`, as
    user and group `uid` when given, with another interpreter when given)."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SRC)}
    full_env.update(env or {})
    as_user: dict[str, object] = {}
    if uid is not None:
        as_user = {"user": uid, "group": uid, "extra_groups": []}
    return subprocess.run(
        [python, "-B", "-m", "rootnorm", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
        cwd=cwd,
        **as_user,  # type: ignore[arg-type]
    )


def interpreter(version: str) -> Path:
    """The pyenv interpreter whose version starts with `version` (e.g. "3.8", "2.7")."""
    matches = sorted(PYENV.glob(f"{version}.*/bin/python")) if PYENV.is_dir() else []
    if not matches:
        unavailable(f"the pyenv interpreter {version} (pyenv versions)")
    return matches[-1]


def unavailable(why: str) -> None:
    """A tool a test needs is missing: a failure in CI (which installs it), a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {why}")
    pytest.skip(why)


def clean_env(**extra: str) -> dict[str, str]:
    """A clean environment: this machine exports PYTHONDONTWRITEBYTECODE=1, which hides bugs."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


@dataclass(frozen=True)
class Snap:
    kind: int
    mtime_ns: int
    ino: int
    content: bytes | None
    link: bytes | None


def snapshot(root: Path) -> dict[bytes, Snap]:
    """Every entry's type, mtime, inode and bytes (regular files) or target (symlinks)."""
    result: dict[bytes, Snap] = {}
    base = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = link = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            elif stat.S_ISLNK(st.st_mode):
                link = os.readlink(path)
            rel = os.path.relpath(path, base)
            result[rel] = Snap(stat.S_IFMT(st.st_mode), st.st_mtime_ns, st.st_ino, content, link)
    return result
