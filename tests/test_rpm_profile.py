"""The rpm profile: mtimes clamped to SOURCE_DATE_EPOCH, pycs valid per the interpreters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytrees import SITE, VERSIONS, build, expected_modules, import_all
from testlib import NS, rootnorm

EPOCH = 1_600_000_000


@pytest.fixture(scope="module")
def clamped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rpm")
    build(root)
    old = root / SITE / "old.txt"
    old.write_text("older than the epoch\n")
    os.utime(old, ns=(1_500_000_000 * NS + 123, 1_500_000_000 * NS + 123))
    proc = rootnorm("--profile", "rpm", str(root), env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_newer_entries_clamped_older_untouched(clamped: Path) -> None:
    old = clamped / SITE / "old.txt"
    assert old.stat().st_mtime_ns == 1_500_000_000 * NS + 123
    for dirpath, dirnames, filenames in os.walk(clamped):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if path != str(old):
                assert os.lstat(path).st_mtime_ns == EPOCH * NS, path


@pytest.mark.parametrize("version", VERSIONS)
def test_caches_valid_for_each_interpreter(clamped: Path, version: str) -> None:
    result = import_all(clamped, version)
    assert result.stale == (["edited"] if version == "2.7" else ["common.edited"])
    assert result.matches == expected_modules(version) - 1
    assert result.output == "new"
