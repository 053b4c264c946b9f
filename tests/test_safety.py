"""Safety promises, on real files: links out of the root, hard-link groups, metadata, atomicity
leftovers, stale pycs, per-file failures, idempotence and --jobs determinism."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from testlib import NS, clean_env, interpreter, rootnorm, snapshot
from trees import (
    cache_of,
    compile_valid,
    compileall,
    entries,
    header,
    link_groups,
    outcomes,
    pyc_bytes,
    read_report,
    set_mtime,
    state,
    temp_files,
    valid_against,
    write_source,
    xattrs,
)

from rootnorm import cli, pipeline

OLD = 1_000_000  # a build-time mtime, older than EPOCH
EPOCH = 1_500_000_000  # SOURCE_DATE_EPOCH of the clamp runs
NEW = 1_700_000_000  # newer than EPOCH: clamped


def run_ostree(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return rootnorm("--profile", "ostree", *extra, str(root), timeout=60)


def run_generic(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return rootnorm("--profile", "generic", "--source-date-epoch", str(EPOCH), *extra, str(root))


def assert_clean_exit(proc: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode == code, proc.stdout + proc.stderr


# 1. links out of the root ------------------------------------------------------------------


def test_symlinks_out_of_the_root_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    pkg = outside / "pkg"
    target_src = write_source(outside / "target.py", "X = 1\n", NEW)
    target_pyc = compile_valid(target_src, outside / "target.pyc")
    pkg_src = write_source(pkg / "m.py", "Y = 2\n", NEW)
    pkg_pyc = compile_valid(pkg_src)
    set_mtime(pkg / "__pycache__", NEW)
    set_mtime(pkg, NEW)
    set_mtime(outside, NEW)
    root = tmp_path / "root"
    lib = root / "lib"
    lib.mkdir(parents=True)
    links = {
        "abs_file.pyc": str(target_pyc),
        "rel_file.pyc": "../../outside/target.pyc",
        "abs_dir.pyc": str(pkg),  # a directory behind a pyc-ish name
        "rel_dir": "../../outside/pkg",  # a directory holding pycs
        "abs_pycache": str(pkg / "__pycache__"),
        "target.py": str(target_src),  # a source that is a link out of the root
    }
    for name, target in links.items():
        os.symlink(target, lib / name)
        set_mtime(lib / name, NEW)
    # a cache in the tree whose source is the link out: resolved inside the root, so no source
    compile_valid(target_src, cache_of(lib / "target.py"))
    before_out = snapshot(outside)
    before_out_dir = os.stat(outside).st_mtime_ns
    proc = run_ostree(root)
    assert_clean_exit(proc)
    assert snapshot(outside) == before_out
    assert os.stat(outside).st_mtime_ns == before_out_dir
    assert valid_against(target_pyc, target_src) and valid_against(pkg_pyc, pkg_src)
    for name, target in links.items():
        st = os.lstat(lib / name)
        assert stat.S_ISLNK(st.st_mode)
        assert os.readlink(lib / name) == target
        assert st.st_mtime_ns == 0, name  # the link's own mtime (lutimes semantics)
    assert temp_files(root) == [] and temp_files(outside) == []


def test_pyc_hard_linked_from_outside_gets_a_new_inode(tmp_path: Path) -> None:
    root = tmp_path / "root"
    src = write_source(root / "pkg" / "m.py", "A = 'a'\n", NEW)
    pyc = compile_valid(src)
    opt1 = cache_of(src, "1")
    os.link(pyc, opt1)  # an in-tree hard-link group ...
    outside = tmp_path / "outside.pyc"
    os.link(pyc, outside)  # ... that is also shared with a file outside the root
    os.chmod(pyc, 0o640)
    os.chown(pyc, 4321, 8765)
    os.setxattr(pyc, "user.component", b"python")
    os.setxattr(pyc, "trusted.rootnorm", b"t")
    set_mtime(pyc, NEW)
    old = os.stat(outside)
    old_bytes = outside.read_bytes()
    proc = run_ostree(root)
    assert_clean_exit(proc)
    assert outside.read_bytes() == old_bytes
    st_out = os.stat(outside)
    assert (st_out.st_ino, st_out.st_mtime_ns, st_out.st_nlink) == (old.st_ino, old.st_mtime_ns, 1)
    st_in = os.stat(pyc)
    assert st_in.st_ino != old.st_ino
    assert os.stat(opt1).st_ino == st_in.st_ino and st_in.st_nlink == 2
    assert valid_against(pyc, src) and header(pyc)[1] == 0
    assert (stat.S_IMODE(st_in.st_mode), st_in.st_uid, st_in.st_gid) == (0o640, 4321, 8765)
    assert xattrs(pyc) == {"user.component": b"python", "trusted.rootnorm": b"t"}
    assert st_in.st_mtime_ns == 0
    assert temp_files(root) == []


def test_file_hard_linked_from_outside_whose_mtime_changes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    inside = root / "etc" / "data.txt"
    inside.write_bytes(b"shared\n")
    outside = tmp_path / "data.txt"
    os.link(inside, outside)
    set_mtime(inside, NEW)
    old = os.stat(outside)
    proc = run_ostree(root)
    assert_clean_exit(proc)
    st_out, st_in = os.stat(outside), os.stat(inside)
    assert (st_out.st_ino, st_out.st_mtime_ns, st_out.st_nlink) == (old.st_ino, NEW * NS, 1)
    assert outside.read_bytes() == inside.read_bytes() == b"shared\n"
    assert st_in.st_ino != old.st_ino and st_in.st_mtime_ns == 0


def test_group_in_many_directories_shared_outside_moves_as_one(tmp_path: Path) -> None:
    """One inode named in more directories than the writer keeps open (as `hardlink` leaves
    identical licence files), and linked outside: every in-tree name moves to one new inode,
    and no name is linked from a same-named decoy in another directory."""
    root = tmp_path / "root"
    names = [root / "usr" / "share" / f"d{k:02}" / "COPYING" for k in range(20)]
    for k, path in enumerate(names):
        path.parent.mkdir(parents=True)
        decoy = path.parent.parent / f"e{k:02}" / "COPYING"  # same name, other content
        decoy.parent.mkdir()
        decoy.write_bytes(b"decoy %d\n" % k)
    names[0].write_bytes(b"licence\n")
    for path in names[1:]:
        os.link(names[0], path)
    outside = tmp_path / "COPYING"
    os.link(names[0], outside)
    for path in (*names, outside):
        set_mtime(path, NEW)
    old = os.stat(outside)
    assert_clean_exit(run_ostree(root))
    inodes = {os.stat(path).st_ino for path in names}
    assert len(inodes) == 1 and old.st_ino not in inodes
    assert all(path.read_bytes() == b"licence\n" for path in names)
    assert os.stat(names[0]).st_nlink == len(names)
    st_out = os.stat(outside)
    assert (st_out.st_ino, st_out.st_mtime_ns, st_out.st_nlink) == (old.st_ino, NEW * NS, 1)
    assert temp_files(root) == []


def test_symlink_hard_linked_from_outside_keeps_its_mtime_outside(tmp_path: Path) -> None:
    """ostree bare checkouts hard-link symlinks too: the link's own mtime is an inode field."""
    root = tmp_path / "root"
    root.mkdir()
    inside, inside2 = root / "lib64", root / "lib64-again"
    os.symlink("usr/lib64", inside)
    os.link(inside, inside2, follow_symlinks=False)  # an in-tree pair ...
    outside = tmp_path / "repo-object.symlink"
    os.link(inside, outside, follow_symlinks=False)  # ... also linked from outside
    os.setxattr(inside, "trusted.rootnorm", b"link", follow_symlinks=False)
    os.chown(inside, 4321, 8765, follow_symlinks=False)
    fifo, fifo_out = root / "fifo", tmp_path / "fifo"
    os.mkfifo(fifo, 0o640)
    os.link(fifo, fifo_out)
    pair, pair2 = root / "pair", root / "pair2"  # a symlink pair only inside: stays one inode
    os.symlink("lib64", pair)
    os.link(pair, pair2, follow_symlinks=False)
    for path in (inside, fifo, pair):
        set_mtime(path, NEW)
    old, old_fifo = os.lstat(outside), os.lstat(fifo_out)
    old_pair = os.lstat(pair).st_ino
    proc = run_ostree(root)
    assert_clean_exit(proc)
    st_out, st_in = os.lstat(outside), os.lstat(inside)
    assert (st_out.st_ino, st_out.st_mtime_ns) == (old.st_ino, NEW * NS)
    assert os.readlink(outside) == os.readlink(inside) == "usr/lib64"
    assert st_in.st_ino != old.st_ino and st_in.st_mtime_ns == 0
    assert os.lstat(inside2).st_ino == st_in.st_ino and st_in.st_nlink == 2
    assert (st_in.st_uid, st_in.st_gid) == (4321, 8765)
    assert os.getxattr(inside, "trusted.rootnorm", follow_symlinks=False) == b"link"
    st_fifo, st_fifo_out = os.lstat(fifo), os.lstat(fifo_out)
    assert (st_fifo_out.st_ino, st_fifo_out.st_mtime_ns) == (old_fifo.st_ino, NEW * NS)
    assert stat.S_ISFIFO(st_fifo.st_mode) and stat.S_IMODE(st_fifo.st_mode) == 0o640
    assert st_fifo.st_ino != old_fifo.st_ino and st_fifo.st_mtime_ns == 0
    st_pair = os.lstat(pair)
    assert st_pair.st_ino == old_pair == os.lstat(pair2).st_ino and st_pair.st_mtime_ns == 0
    assert temp_files(root) == []


# 2. hard-link groups, mode, owner, xattrs ------------------------------------------------------


XATTRS = {
    "user.component": b"rpm/python3-libs",
    "trusted.overlay.x": b"\x00\x01binary",
    "security.rootnorm-test": b"kept",
}


@pytest.mark.parametrize("shared_outside", [False, True], ids=["in-place", "new-inode"])
def test_compileall_hard_link_groups_and_metadata_survive(
    tmp_path: Path, shared_outside: bool
) -> None:
    root = tmp_path / "root"
    pkg = root / "usr" / "lib" / "pkg"
    write_source(pkg / "__init__.py", "", NEW)
    write_source(pkg / "plain.py", "VALUE = 42\n", NEW)  # no docstring/assert: opt-0 == 1 == 2
    write_source(pkg / "doc.py", '"""Doc."""\nassert True\nVALUE = 1\n', NEW)
    compileall(root)
    groups = link_groups(root)
    assert len(groups) >= 2, groups  # __init__ and plain: three names each
    plain = cache_of(pkg / "plain.py", tag="cpython-39")
    assert any(os.fsencode(plain.relative_to(root)) in g for g in groups)
    os.chmod(plain, 0o640)
    os.chown(plain, 4321, 8765)
    for name, value in XATTRS.items():
        try:
            os.setxattr(plain, name, value)
        except OSError as exc:  # pragma: no cover - ext4 and tmpfs accept all three as root
            pytest.skip(f"this file system refuses {name}: {exc.strerror}")
    outside = tmp_path / "outside.pyc"
    if shared_outside:
        os.link(plain, outside)
    old_ino = os.stat(plain).st_ino
    proc = run_ostree(root)
    assert_clean_exit(proc)
    assert link_groups(root) == groups
    st = os.stat(plain)
    assert (st.st_ino != old_ino) is shared_outside
    assert st.st_nlink == 3
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 4321, 8765)
    assert xattrs(plain) == XATTRS
    for source in ("plain.py", "doc.py"):
        for opt in ("", "1", "2"):
            assert valid_against(cache_of(pkg / source, opt, "cpython-39"), pkg / source)
    empty_init = cache_of(pkg / "__init__.py", tag="cpython-39")
    assert header(empty_init)[0] == 3  # an empty source: made a checked-hash pyc
    if shared_outside:
        assert os.stat(outside).st_ino == old_ino and header(outside)[1] == NEW
    assert temp_files(root) == []


# 4. stale pycs are never made valid -------------------------------------------------------------


def edit_same_size(source: Path, text: str, mtime: int) -> None:
    assert len(text.encode()) == source.stat().st_size
    write_source(source, text, mtime)


@pytest.mark.parametrize(
    ("profile", "compiled_at", "edited_at"),
    [
        ("ostree", NEW, NEW + 60),  # header NEW, source NEW+60, final 0
        ("generic", OLD, OLD + 60),  # both older than the epoch: nothing moves
        ("ostree", 0, NEW),  # compiled when the source had mtime 0, then edited
        ("generic", EPOCH, NEW),  # compiled after clamping, edited later, clamped again
    ],
    ids=["zero", "clamp-old", "zero-header-is-final", "clamp-header-is-final"],
)
def test_stale_pyc_stays_stale(
    tmp_path: Path, profile: str, compiled_at: int, edited_at: int
) -> None:
    root = tmp_path / "root"
    src = write_source(root / "m.py", "VALUE = 'old'\n", compiled_at)
    pyc = compile_valid(src)
    edit_same_size(src, "VALUE = 'new'\n", edited_at)
    report = tmp_path / "report.json"
    args = ["--profile", profile, "--report", str(report)]
    if profile == "generic":
        args += ["--source-date-epoch", str(EPOCH)]
    proc = rootnorm(*args, str(root))
    assert_clean_exit(proc)
    if pyc.exists():  # removing it is also safe; making it valid is not
        assert not valid_against(pyc, src), "a stale pyc was made valid: old code would run"
        assert header(pyc)[1] == compiled_at
    found = outcomes(read_report(report))
    assert found[("./__pycache__/" + pyc.name, "pyc")][0] in ("stale", "removed")
    assert "stale" in proc.stdout or "removed" in proc.stdout


def test_stale_remove_profile_removes_every_hard_linked_name(tmp_path: Path) -> None:
    profile = tmp_path / "strict.toml"
    profile.write_text(
        '[mtime]\npolicy = "zero"\n\n[[handler]]\nname = "pyc"\nstale = "remove"\n\n'
        '[[handler]]\nname = "mtime"\n',
        encoding="utf-8",
    )
    root = tmp_path / "root"
    src = write_source(root / "pkg" / "m.py", "VALUE = 'old'\n", NEW)
    pyc = compile_valid(src)
    names = [pyc, cache_of(src, "1"), cache_of(src, "2")]
    for name in names[1:]:
        os.link(pyc, name)
    good_src = write_source(root / "pkg" / "ok.py", "OK = 1\n", NEW)
    good = compile_valid(good_src)
    edit_same_size(src, "VALUE = 'new'\n", NEW + 5)
    proc = rootnorm("--profile", str(profile), str(root))
    assert_clean_exit(proc)
    assert not any(name.exists() for name in names)
    assert src.read_text() == "VALUE = 'new'\n"
    assert valid_against(good, good_src) and header(good)[1] == 0
    assert os.stat(root / "pkg" / "__pycache__").st_mtime_ns == 0


def test_caches_of_two_sources_hard_linked_are_left(tmp_path: Path) -> None:
    """One inode cannot hold two sources' mtimes: it is reported and left as it is."""
    root = tmp_path / "root"
    first = write_source(root / "pkg" / "a.py", "X = 1\n", OLD)
    other = write_source(root / "pkg" / "b.py", "X = 1\n", OLD + 7)
    pyc = compile_valid(first)
    os.link(pyc, cache_of(other))
    before = pyc.read_bytes()
    report = tmp_path / "report.json"
    proc = run_ostree(root, "--report", str(report))
    assert_clean_exit(proc)
    assert pyc.read_bytes() == before
    found = outcomes(read_report(report))
    assert found[("./pkg/__pycache__/" + pyc.name, "pyc")] == (
        "unsupported",
        "hard-linked with the caches of other sources",
    )


def test_caches_hard_linked_under_two_names_of_one_source_are_fixed(tmp_path: Path) -> None:
    """b.py is a symlink to a.py: the import system stats one file for both caches."""
    root = tmp_path / "root"
    first = write_source(root / "pkg" / "a.py", "X = 1\n", OLD)
    (root / "pkg" / "b.py").symlink_to("a.py")
    pyc = compile_valid(first)
    os.link(pyc, cache_of(root / "pkg" / "b.py"))
    proc = run_ostree(root)
    assert_clean_exit(proc)
    assert valid_against(pyc, first) and header(pyc)[1] == 0
    assert os.stat(pyc).st_nlink == 2


# 3 + 6. a file that cannot be written: exit 3, the rest done, nothing left behind ----------------


def chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


def test_immutable_pyc_fails_alone_and_exits_3(tmp_path: Path) -> None:
    root = tmp_path / "root"
    pkg = root / "pkg"
    stuck_src = write_source(pkg / "stuck.py", "S = 1\n", NEW)
    stuck = compile_valid(stuck_src, mtime=OLD)
    good_src = write_source(pkg / "good.py", "G = 1\n", NEW)
    good = compile_valid(good_src, mtime=OLD)
    set_mtime(pkg / "__pycache__", OLD)  # older than the epoch: the run must not move it
    if not chattr("+i", stuck):
        pytest.skip("this file system does not support chattr +i")
    try:
        stuck_before = (stuck.read_bytes(), os.stat(stuck).st_ino, os.stat(stuck).st_mtime_ns)
        report = tmp_path / "report.json"
        proc = run_generic(root, "--report", str(report))
        assert_clean_exit(proc, 3)
        assert (stuck.read_bytes(), os.stat(stuck).st_ino, os.stat(stuck).st_mtime_ns) == (
            stuck_before
        )
        assert "stuck" in proc.stdout
        found = outcomes(read_report(report))
        outcome, detail = found[("./pkg/__pycache__/" + stuck.name, "pyc")]
        assert outcome == "failed" and "not permitted" in detail
        assert valid_against(good, good_src) and header(good)[1] == EPOCH
        assert os.stat(good_src).st_mtime_ns == EPOCH * NS
        assert os.stat(pkg / "__pycache__").st_mtime_ns == OLD * NS
        assert temp_files(root) == []
    finally:
        chattr("-i", stuck)


# 7. idempotence ------------------------------------------------------------------------------


def mixed_tree(root: Path, outside: Path, modules: int = 6) -> None:
    """Valid, stale, hash-based, empty-source and hard-linked pycs, links, an outside link."""
    pkg = root / "usr" / "lib" / "python3" / "pkg"
    write_source(pkg / "__init__.py", "", NEW)
    compile_valid(pkg / "__init__.py")
    for number in range(modules):
        src = write_source(pkg / f"mod{number:04}.py", f"VALUE = '{number:06}'\n", NEW - number)
        pyc = compile_valid(src)
        if number % 3 == 0:
            os.link(pyc, cache_of(src, "1"))
        if number % 5 == 1:
            edit_same_size(src, f"VALUE = '{number + 1:06}'\n", NEW + number)
        if number % 7 == 2:
            os.link(pyc, outside / f"shared{number}.pyc")
    hashed = write_source(pkg / "hashed.py", "H = 1\n", NEW)
    cache_of(hashed).write_bytes(pyc_bytes("H = 1\n", 0, 0, flags=3))
    set_mtime(cache_of(hashed), NEW)
    os.symlink("pkg/mod0000.py", pkg.parent / "alias.py")
    os.symlink("/nonexistent", root / "dangling")
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text("ID=test\n")
    set_mtime(root / "etc" / "os-release", NEW)
    for rel, st in entries(root):  # directories and links too: two builds are identical
        if not stat.S_ISREG(st.st_mode):
            set_mtime(root / os.fsdecode(rel), NEW)
    set_mtime(root, NEW)


@pytest.mark.parametrize("profile", ["ostree", "generic"])
def test_second_run_changes_nothing(tmp_path: Path, profile: str) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    mixed_tree(root, outside)
    run = run_ostree if profile == "ostree" else run_generic
    check = run(root, "--check")
    assert_clean_exit(check, 1)
    assert_clean_exit(run(root))
    first = snapshot(root)
    assert_clean_exit(run(root))
    assert snapshot(root) == first
    assert_clean_exit(run(root, "--check"))
    assert snapshot(root) == first
    assert temp_files(root) == []


# 8. --jobs 2 == --jobs 1 ----------------------------------------------------------------------


PARALLEL_PROFILES = {
    # 3.8's caches are costly (each source hashed in pure Python): they go to the workers
    "pycs": 'checked_hash = "all"\nstale = "remove"\n',
    # light pycs stay in the parent while the workers rewrite the large gzip files
    "pycs+archives": 'checked_hash = "empty"\nstale = "remove"\n\n[[handler]]\nname = "gzip"\n',
}


@pytest.mark.parametrize("kind", PARALLEL_PROFILES)
def test_parallel_run_matches_serial_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    profile = tmp_path / "parallel.toml"
    profile.write_text(
        f'[mtime]\npolicy = "zero"\n\n[[handler]]\nname = "pyc"\n{PARALLEL_PROFILES[kind]}'
        '\n[[handler]]\nname = "mtime"\n',
        encoding="utf-8",
    )
    handed: list[int] = []  # how many tasks went to workers, per run
    spread = pipeline.spread

    def counting_spread(jobs: int, cut: list[list[object]], work: object) -> object:
        handed.append(len(cut))
        return spread(jobs, cut, work)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "spread", counting_spread)
    template = tmp_path / "other"
    for number in range(300):
        write_source(template / f"m{number:03}.py", f"X = {number}\n" * 40, NEW)
    compile38 = [str(interpreter("3.8")), "-m", "compileall", "-q", str(template)]
    subprocess.run(compile38, env=clean_env(), check=True)
    results = []
    for jobs in ("1", "2"):
        base = tmp_path / f"jobs{jobs}"
        root, outside = base / "root", base / "outside"
        root.mkdir(parents=True)
        outside.mkdir()
        mixed_tree(root, outside, modules=420)
        other = root / "usr" / "lib" / "python3.8" / "other"
        shutil.copytree(template, other)  # compiled once: a pyc holds its source's path
        for path in (other / "__pycache__", other, other.parent, other.parent.parent):
            set_mtime(path, NEW)
        (root / "usr" / "share" / "doc").mkdir(parents=True)
        for number in range(20):  # large gzip files with a build time in their header
            page = root / "usr" / "share" / "doc" / f"page{number:02}.gz"
            with page.open("wb") as raw, gzip.GzipFile("p", "wb", 1, raw, mtime=NEW) as out:
                out.write(random.Random(number).randbytes(80_000))  # incompressible
            set_mtime(page, NEW)
        for directory in ("usr/share/doc", "usr/share", "usr"):
            set_mtime(root / directory, NEW)
        report = base / "report.json"
        args = ["--quiet", "--profile", str(profile), "--jobs", jobs, "--report", str(report)]
        assert cli.main([*args, str(root)]) == 0
        assert temp_files(root) == []
        results.append((state(root), link_groups(root), read_report(report), state(outside)))
    assert len(handed) == 1 and handed[0] >= 8  # only --jobs 2 used workers, with many tasks
    (state1, groups1, report1, out1), (state2, groups2, report2, out2) = results
    assert state1 == state2
    assert groups1 == groups2 and groups1
    assert report1 == report2
    assert out1 == out2
    counts = report1["counts"]
    assert isinstance(counts, dict)
    assert counts["pyc"]["changed"] > 256 and counts["pyc"]["removed"] > 0
