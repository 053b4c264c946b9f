"""Smoke test of the benchmark suite on the tiny corpus: it must run end to end.

Figures are never asserted; only that every contender ran (or says why it could not) and that
the floor, the yardstick of every ratio, does what it claims.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
ROOTNORM_CONTENDERS = ("rootnorm ostree", "rootnorm ostree 2nd run", "rootnorm rpm")


def _python(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-B", *args], capture_output=True, text=True, timeout=60, **kwargs
    )


def _rootnorm_importable() -> bool:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return _python("-c", "import rootnorm.cli", env=env).returncode == 0


def _tiny(cache: Path) -> Path:
    proc = _python(str(BENCH / "corpus.py"), "--cache", str(cache), "tiny")
    assert proc.returncode == 0, proc.stderr
    return cache / "tiny" / "root"


def test_floor_zeroes_every_mtime_and_timestamp_header(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(_tiny(tmp_path / "cache"), tree, symlinks=True)
    hash_headers = {p: p.read_bytes()[:16] for p in tree.rglob("*.pyc") if p.read_bytes()[4] & 1}
    assert hash_headers, "the tiny corpus must hold checked-hash pycs"

    proc = _python(str(BENCH / "floor.py"), str(tree))
    assert proc.returncode == 0, proc.stderr

    for path in [tree, *tree.rglob("*")]:
        assert path.lstat().st_mtime_ns == 0, path
    for pyc in tree.rglob("*.pyc"):
        head = pyc.read_bytes()[:16]
        if pyc in hash_headers:
            assert head == hash_headers[pyc], pyc
        else:
            assert head[8:12] == bytes(4), pyc


def test_suite_runs_on_tiny_corpus(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _python(
        str(BENCH / "run.py"),
        *("--cache", str(tmp_path / "cache"), "--corpus", "tiny"),
        *("--repeat", "1", "--no-sync", "--out", str(out)),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    results = {r["contender"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    ran = ["floor", "floor 2nd run", "naive"]
    if shutil.which("strip-nondeterminism"):
        ran.append("strip-nondeterminism archives")
    if _rootnorm_importable():
        ran += ROOTNORM_CONTENDERS
    else:
        for name in ROOTNORM_CONTENDERS:
            assert results[name]["unavailable"], name
    for name in ran:
        samples = results[name]["samples"]
        assert [s["returncode"] for s in samples] == [0], (name, samples)

    assert "naive: 0 " not in results["naive"]["samples"][0]["output_tail"]

    table = (out / "results.md").read_text()
    assert "| tiny | floor |" in table
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "time-vs-size.png").stat().st_size > 0


def test_phases_on_tiny_corpus(tmp_path: Path) -> None:
    proc = _python(
        str(BENCH / "phases.py"),
        *("--cache", str(tmp_path / "cache"), "--corpus", "tiny"),
        *("--repeat", "1", "--second", "--scratch", str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = [line.split()[0] for line in proc.stdout.splitlines()[1:]]
    assert shown[:3] == ["walk", "name", "content"] and shown[-2:] == ["mtime", "start-up"]
    assert "pyc inspect" in proc.stdout
