"""The journal never outlives a complete run, whoever wrote to it."""

from __future__ import annotations

import gzip
from pathlib import Path

from testlib import rootnorm


def test_no_journal_left_when_only_workers_wrote(tmp_path: Path) -> None:
    """With --jobs 2, archives go to workers and the main process may write nothing itself:
    the journal the workers made is still removed at the end."""
    root = tmp_path / "root"
    man = root / "usr/share/man/man1"
    man.mkdir(parents=True)
    for n in range(40):  # enough costly files for workers to be forked (pipeline.MIN_HEAVY)
        (man / f"tool{n}.1.gz").write_bytes(gzip.compress(b"page %d\n" % n, mtime=1_700_000_000))
    proc = rootnorm("--profile", "ostree", "--jobs", "2", str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gzip: 40 changed" in proc.stdout, proc.stdout
    assert [p.name for p in root.rglob(".rootnorm-*")] == []
    again = rootnorm("--check", "--profile", "ostree", str(root))
    assert again.returncode == 0, again.stdout
