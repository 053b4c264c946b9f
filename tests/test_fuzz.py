"""A short fuzz budget per parser (fuzz/README.md has the long run): any crash, hang (more
than 10 s on one input) or runaway memory fails the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from testlib import REPO, unavailable

RUNS = 3000
TARGETS = (
    "pyc",
    "gzip",
    "zip",
    "ar",
    "fontconfig",
    "elf",
    "mo",
    "png",
    "javadoc",
    "shadow",
    "keystore",
    "conda",
)


def test_every_target_listed() -> None:
    sys.path.insert(0, str(REPO / "fuzz"))
    try:
        import targets
    finally:
        sys.path.remove(str(REPO / "fuzz"))
    assert set(targets.TARGETS) == set(TARGETS)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_briefly(target: str, tmp_path: Path) -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        unavailable("atheris (the `test` extra installs it)")
    runs = RUNS
    command = [sys.executable, "-B", str(REPO / "fuzz" / "run.py"), "--target", target]
    options = ["--runs", str(runs), "--corpus", str(tmp_path / "corpus")]
    done = subprocess.run(
        [*command, *options, "--artifacts", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    tail = done.stderr[-3000:]
    assert done.returncode == 0, tail
    assert f"Done {runs} runs" in done.stderr, tail
    assert not list(tmp_path.glob(f"{target}-*")), tail  # crash-, timeout-, oom- files
