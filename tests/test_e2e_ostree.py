"""The ostree profile judged by real interpreters after an ostree-style and a real checkout."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from ostree_checkout import checkout_mtimes
from pytrees import (
    RUNNING,
    VERSIONS,
    build,
    copy_tree,
    expected_modules,
    hash_capable,
    import_all,
)
from testlib import clean_env, interpreter, rootnorm


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compiled")
    build(root)
    return root


def _stale_names(version: str) -> list[str]:
    return ["edited"] if version == "2.7" else ["common.edited"]


@pytest.mark.parametrize("version", VERSIONS)
def test_without_rootnorm_every_cache_is_stale_after_checkout(
    compiled: Path, tmp_path: Path, version: str
) -> None:
    """The problem is real: without rootnorm, an ostree checkout makes every pyc stale."""
    tree = tmp_path / "tree"
    copy_tree(compiled, tree)
    checkout_mtimes(tree)
    result = import_all(tree, version)
    assert result.matches == 0 or version in ("3.8", "3.11", "3.13")  # hash pycs still match
    assert len(result.stale) >= 3
    assert result.output == "new"


@pytest.fixture(scope="module")
def processed(compiled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("processed") / "tree"
    copy_tree(compiled, tree)
    proc = rootnorm("--profile", "ostree", str(tree))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return tree


@pytest.mark.parametrize("version", VERSIONS)
def test_ostree_profile_then_checkout_mtimes_every_cache_valid(
    processed: Path, tmp_path: Path, version: str
) -> None:
    tree = tmp_path / "tree"
    copy_tree(processed, tree)
    checkout_mtimes(tree)
    result = import_all(tree, version)
    assert result.stale == _stale_names(version), result
    assert result.matches == expected_modules(version) - 1
    assert result.output == "new"  # the edited source wins over its stale cache


def test_ostree_profile_reports_the_stale_caches(compiled: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    copy_tree(compiled, tree)
    proc = rootnorm("--profile", "ostree", "--verbose", str(tree))
    stale_lines = [line for line in proc.stdout.splitlines() if line.startswith("  stale:")]
    assert len(stale_lines) == len(VERSIONS)
    assert all("edited" in line for line in stale_lines)


@pytest.mark.slow
def test_real_ostree_commit_and_checkout(processed: Path, tmp_path: Path) -> None:
    if shutil.which("ostree") is None:
        pytest.fail("the ostree command is needed (Debian package ostree)")
    repo = tmp_path / "repo"
    out = tmp_path / "checkout"
    subprocess.run(["ostree", "init", f"--repo={repo}", "--mode=bare"], check=True)
    subprocess.run(
        ["ostree", "commit", f"--repo={repo}", "--branch=test", f"--tree=dir={processed}"],
        check=True,
        capture_output=True,
    )
    subprocess.run(["ostree", "checkout", f"--repo={repo}", "test", str(out)], check=True)
    for version in VERSIONS:
        result = import_all(out, version)
        assert result.stale == _stale_names(version), (version, result)
        assert result.matches == expected_modules(version) - 1, (version, result)


def test_lost_source_mtimes_verified_by_code(tmp_path: Path) -> None:
    """rpm-ostree unified core / finalize.d: the tree is already an ostree checkout, so every
    .py has mtime 0 (empty ones the checkout time) while pycs carry the build time. The
    running Python's pycs are verified against a fresh compile and fixed; other versions'
    are reported as not verifiable and stay as they were; the edited module stays stale."""
    tree = tmp_path / "tree"
    tree.mkdir()
    build(tree, tuple(dict.fromkeys((*VERSIONS, RUNNING))))
    checkout_mtimes(tree)
    running = RUNNING
    proc = rootnorm("--profile", "ostree", "--verbose", str(tree))
    assert proc.returncode == 0, proc.stderr
    tag = f"cpython-{running.replace('.', '')}"
    verified = [ln for ln in proc.stdout.splitlines() if "code verified identical" in ln]
    assert any(tag in ln and "/mod." in ln for ln in verified)
    # other versions' caches are verifiable only when their source is empty
    assert all(tag in ln or "/__init__." in ln for ln in verified), verified
    assert any("not verifiable here" in ln for ln in proc.stdout.splitlines())
    checkout_mtimes(tree)
    result = import_all(tree, running)
    assert result.stale == ["common.edited"], result
    assert result.matches == expected_modules(running) - 1
    assert result.output == "new"


def test_touched_source_is_verified_not_stale(tmp_path: Path) -> None:
    pkg = tmp_path / "root" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "m.py").write_text("X = 1\n")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(pkg)], check=True, env=clean_env()
    )
    os.utime(pkg / "m.py", ns=(5 * 10**18, 5 * 10**18))  # touched: same content, new mtime
    proc = rootnorm("--profile", "ostree", "--verbose", str(tmp_path / "root"))
    assert "code verified identical" in proc.stdout
    assert "stale" not in proc.stdout


def test_empty_source_finding_only_without_pep552(tmp_path: Path) -> None:
    """3.6 caches of an empty source cannot survive an ostree checkout and are reported;
    3.8's become checked-hash pycs and are not."""
    tree = tmp_path / "tree"
    tree.mkdir()
    build(tree, ("3.6", "3.8"))
    pkg = tree / "usr/lib/pyapp/extra"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for version in ("3.6", "3.8"):
        subprocess.run(
            [str(interpreter(version)), "-m", "compileall", "-q", str(pkg)],
            check=True,
            env=clean_env(),
        )
    # a future CPython's cache (16-byte header, magic above the known table): no finding either
    future = pkg / "__pycache__" / "__init__.cpython-399.pyc"
    mtime = int((pkg / "__init__.py").stat().st_mtime)
    future.write_bytes(struct.pack("<H2sIII", 3750, b"\r\n", 0, mtime, 0) + b"\xe3" + b"\0" * 20)
    proc = rootnorm("--profile", "ostree", "--verbose", str(tree))
    assert "__init__.cpython-399.pyc [pyc] header mtime" in proc.stdout
    flagged = [ln for ln in proc.stdout.splitlines() if ln.startswith("  pyc-empty-source-pre37")]
    assert flagged and all("cpython-36" in ln for ln in flagged), proc.stdout
    assert any("extra/__pycache__/__init__.cpython-36" in ln for ln in flagged)


def test_checked_hash_all_valid_for_every_interpreter(compiled: Path, tmp_path: Path) -> None:
    """checked_hash = "all": every valid cache of 3.7+ becomes checked-hash, hashed for its own
    interpreter (3.8's SipHash-2-4 and 3.13's 1-3 in pure Python, the running one's by CPython),
    so it stays valid whatever mtimes a checkout gives; a module's caches for several
    interpreters sit side by side, so a hash kept for the wrong magic would show here."""
    tree = tmp_path / "tree"
    copy_tree(compiled, tree)
    profile = tmp_path / "all.toml"
    profile.write_text(
        '[mtime]\npolicy = "zero"\n\n[[handler]]\nname = "pyc"\nchecked_hash = "all"\n\n'
        '[[handler]]\nname = "mtime"\n',
        encoding="utf-8",
    )
    proc = rootnorm("--profile", str(profile), str(tree))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for pyc in tree.rglob("*.cpython-3*.pyc"):
        minor = int(pyc.name.split(".")[1].removeprefix("cpython-3"))
        if minor >= 7 and "edited" not in pyc.name:
            assert struct.unpack_from("<I", pyc.read_bytes(), 4)[0] == 3, pyc  # checked-hash
    for path in tree.rglob("*.py"):  # mtimes a checkout could give: timestamps would not do
        os.utime(path, ns=(7 * 10**17, 7 * 10**17))
    for version in VERSIONS:
        result = import_all(tree, version)
        if hash_capable(version):
            assert result.matches == expected_modules(version) - 1, (version, result)
        assert result.output == "new"
