"""A mount point inside ROOT is not crossed (nor touched) unless the profile says so."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from testlib import NS, rootnorm
from trees import cache_of, compile_valid, outcomes, pyc_bytes, read_report, write_source

OLD = 1_000_000


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "root"
    mnt = root / "mnt"
    mnt.mkdir(parents=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        (mnt / "inside").write_text("x")
        (root / "outside").write_text("y")
        yield root
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_mount_point_not_crossed(mounted: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in (mounted / "mnt", mounted / "mnt" / "inside")}
    proc = rootnorm("--profile", "ostree", str(mounted))
    assert proc.returncode == 0
    assert "1 mount points not crossed" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert (mounted / "outside").stat().st_mtime_ns == 0


def test_cross_mounts_when_asked(mounted: Path, tmp_path: Path) -> None:
    profile = tmp_path / "cross.toml"
    profile.write_text(
        'cross_mounts = true\n[mtime]\npolicy = "zero"\n[[handler]]\nname = "mtime"\n'
    )
    assert rootnorm("--profile", str(profile), str(mounted)).returncode == 0
    assert (mounted / "mnt" / "inside").stat().st_mtime_ns == 0


def test_same_filesystem_bind_mount_not_crossed(tmp_path: Path) -> None:
    """st_dev cannot tell a bind mount from the same file system; the mount table can."""
    root = tmp_path / "root"
    host = tmp_path / "host-resolv.conf"
    host.write_text("nameserver 127.0.0.1\n")
    os.utime(host, ns=(7 * 10**18, 7 * 10**18))
    (root / "etc").mkdir(parents=True)
    target = root / "etc" / "resolv.conf"
    target.write_text("")
    proc = subprocess.run(["mount", "--bind", str(host), str(target)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {proc.stderr.decode().strip()}")
    try:
        assert rootnorm("--profile", "ostree", str(root)).returncode == 0
        assert host.stat().st_mtime_ns == 7 * 10**18
        assert host.read_text() == "nameserver 127.0.0.1\n"
        assert rootnorm("--profile", "ostree", "--cross-mounts", str(root)).returncode == 0
        assert host.stat().st_mtime_ns == 0  # crossing was asked for
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_read_only_file_system_reports_each_pyc_as_it_is(tmp_path: Path) -> None:
    """On a read-only tree the opens for writing fail; every cache is still inspected and
    reported for what it is, and each write that was needed fails with the reason."""
    root = tmp_path / "root"
    root.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(root)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        good = write_source(root / "good.py", "A = 1\n", OLD)
        good_pyc = compile_valid(good)
        stale = write_source(root / "stale.py", "B = 2\n", OLD)
        stale_pyc = cache_of(stale)
        stale_pyc.write_bytes(pyc_bytes("B = 0\n", OLD - 5, 6))
        os.utime(stale_pyc, ns=(OLD * NS, OLD * NS))
        subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
        report = tmp_path / "report.json"
        proc = rootnorm("--profile", "ostree", "--report", str(report), str(root))
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        found = outcomes(read_report(report))
        assert found[("./__pycache__/" + stale_pyc.name, "pyc")][0] == "stale"
        outcome, detail = found[("./__pycache__/" + good_pyc.name, "pyc")]
        assert outcome == "failed" and "Read-only file system" in detail
    finally:
        subprocess.run(["umount", str(root)], check=True)
