"""Promise 7 at the level of opens: a file is opened for writing only when its bytes or its
mtime change (overlayfs copies a file up on an open for writing alone), and a pyc whose header
changes is opened once, not once to read and again to write."""

from __future__ import annotations

import os
from pathlib import Path

from opens import watching
from testlib import NS, rootnorm
from trees import cache_of, compile_valid, header, pyc_bytes, write_source

OLD = 1_000_000


def _tree(root: Path) -> dict[str, Path]:
    """Three caches: valid with a build-time header (changes), already at mtime 0 with a
    matching header (no change at all), and stale (left, though its own mtime changes)."""
    changes = write_source(root / "usr/lib/pkg/changes.py", "A = 1\n", OLD)
    settled = write_source(root / "usr/lib/pkg/settled.py", "B = 2\n", 0)
    stale = write_source(root / "usr/lib/pkg/stale.py", "C = 3\n", OLD)
    compile_valid(changes)
    compile_valid(settled, mtime=0)
    stale_pyc = cache_of(stale)
    stale_pyc.write_bytes(pyc_bytes("C = 0\n", OLD - 5, 6))
    os.utime(stale_pyc, ns=(OLD * NS, OLD * NS))
    return {
        name: cache_of(source).relative_to(root)
        for name, source in (("changes", changes), ("settled", settled), ("stale", stale))
    }


def test_first_run_opens_a_changed_pyc_once_and_nothing_unchanged_for_writing(
    tmp_path: Path,
) -> None:
    pycs = _tree(tmp_path)
    with watching(tmp_path) as opens:
        proc = rootnorm("--profile", "ostree", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert header(tmp_path / pycs["changes"])[1] == 0
    changed = str(pycs["changes"])
    assert (opens.written[changed], opens.read[changed]) == (1, 0), opens
    assert str(pycs["settled"]) not in opens.written
    # its mtime goes to 0 anyway, so the one read-write open copies up nothing extra
    assert header(tmp_path / pycs["stale"])[1] == OLD - 5
    sources = {str(p.parent.parent / p.name.split(".")[0]) + ".py" for p in pycs.values()}
    assert not sources & set(opens.written)


def test_second_run_and_check_open_nothing_for_writing(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert rootnorm("--profile", "ostree", str(tmp_path)).returncode == 0
    for args in (("--check",), ()):
        with watching(tmp_path) as opens:
            proc = rootnorm("--profile", "ostree", *args, str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert opens.opened, "the watch saw nothing: the test would prove nothing"
        assert not opens.written, opens.written
