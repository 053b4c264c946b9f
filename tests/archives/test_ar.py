"""ar: `ar U` builds at two times end up byte-identical; GNU and BSD variants; hostile input."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    EPOCH,
    assert_left_unsupported,
    clamp,
    inspect,
    needs,
    normalise,
    run,
    zero,
)

from rootnorm.archives import arfmt
from rootnorm.decisions import Rewrite
from rootnorm.handlers.ar import ArHandler
from rootnorm.handlers.base import Settings
from rootnorm.inventory import walk

LONG = "a_member_with_a_long_file_name.txt"


@pytest.fixture(scope="module")
def objfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs("cc")
    where = tmp_path_factory.mktemp("obj")
    (where / "f.c").write_text("int rootnorm_f(void) { return 42; }\n")
    run(["cc", "-c", "-o", "f.o", "f.c"], cwd=where)
    return where / "f.o"


def _ar_build(root: Path, build: str, variant: int, objfile: Path) -> Path:
    root.mkdir()
    shutil.copy(objfile, root / "f.o")
    (root / LONG).write_text("long name\n")
    (root / "odd").write_text("odd size")  # even padding after odd-sized members
    stamp = int(run(["date", "-d", build, "+%s"]))
    for name in ("f.o", LONG, "odd"):
        os.chmod(root / name, 0o664 if variant else 0o640)
        if os.geteuid() == 0:  # other owners need root; as a user both builds share one
            os.chown(root / name, 1000 * variant, 1000 * variant)
        os.utime(root / name, (stamp, stamp))
    run(["ar", "rcsU", "lib.a", "f.o", LONG, "odd"], cwd=root, faketime=build)
    return root / "lib.a"


@pytest.mark.parametrize(
    ("settings", "mtime"), [(clamp(), EPOCH), (zero(), 0)], ids=["clamp", "ostree"]
)
def test_ar_builds_become_identical(
    tmp_path: Path, objfile: Path, settings: Settings, mtime: int
) -> None:
    needs("ar", "nm", "faketime")
    paths = [_ar_build(tmp_path / f"b{i}", b, i, objfile) for i, b in enumerate(BUILD_TIMES)]
    assert paths[0].read_bytes() != paths[1].read_bytes()
    members = run(["ar", "t", str(paths[0])]).split()
    assert members == ["f.o", LONG, "odd"]
    contents = {name: run(["ar", "p", str(paths[0]), name]) for name in members[1:]}
    for path in paths:
        before = path.stat().st_size
        assert isinstance(normalise("ar", path, settings), Rewrite)
        assert inspect("ar", path, settings) is None
        assert path.stat().st_size == before
        assert run(["ar", "t", str(path)]).split() == members
        assert {name: run(["ar", "p", str(path), name]) for name in members[1:]} == contents
        assert "rootnorm_f in f.o" in run(["nm", "--print-armap", str(path)])
        for line in run(["ar", "tvO", str(path)]).splitlines():
            assert line.startswith(("rw-r--r-- 0/0", "rwxr-xr-x 0/0")), line
    assert paths[0].read_bytes() == paths[1].read_bytes()
    listing = run(["ar", "tv", "--", str(paths[0])])
    assert ("Jan  1 00:00 1970" if mtime == 0 else "Nov 14 22:13 2023") in listing


def _header(name: bytes, size: int, mtime: bytes = b"1800000000", mode: bytes = b"100664") -> bytes:
    return (
        name.ljust(16)
        + mtime.ljust(12)
        + b"1000".ljust(6)
        + b"1000".ljust(6)
        + mode.ljust(8)
        + str(size).encode().ljust(10)
        + b"`\n"
    )


def _bsd_archive() -> bytes:
    symdef_name = b"__.SYMDEF SORTED"
    symdef = symdef_name + b"\0" * 4 + b"\0" * 8
    member_name = b"a_long_bsd_member_name.o"
    member = member_name + b"bsd data"
    return (
        arfmt.MAGIC
        + _header(b"#1/20", len(symdef))
        + symdef
        + _header(b"#1/%d" % len(member_name), len(member), mode=b"100755")
        + member
    )


def test_bsd_names_and_symbol_table() -> None:
    blob = _bsd_archive()
    plan = arfmt.plan(io.BytesIO(blob), len(blob), clamp().target_seconds)
    out = io.BytesIO()
    plan.write(io.BytesIO(blob), out)
    result = out.getvalue()
    assert len(result) == len(blob)
    assert result == (
        arfmt.MAGIC
        + _header(b"#1/20", 28, b"1700000000", b"100664").replace(b"1000  1000  ", b"0     0     ")
        + blob[8 + 60 : 8 + 60 + 28]
        + _header(b"#1/24", 32, b"1700000000", b"755").replace(b"1000  1000  ", b"0     0     ")
        + blob[8 + 60 + 28 + 60 :]
    )
    assert plan.describe("ar") == "ar: mode, mtime, uid/gid"


def _gnu_with_name(name: bytes) -> bytes:
    table = name + b"/\n"
    pad = b"\n" * (len(table) & 1)
    return arfmt.MAGIC + _header(b"//", len(table)) + table + pad + _header(b"/0", 2) + b"ok"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "no ar magic"),
        (b"!<arch>", "no ar magic"),
        (b"!<thin>\n" + _header(b"f.o/", 100), "thin archive"),
        (arfmt.MAGIC + _header(b"f.o/", 10**9) + b"short", "past the end"),
        (arfmt.MAGIC + _header(b"f.o/", 2)[:-2] + b"XX" + b"ok", "bad member header"),
        (arfmt.MAGIC + _header(b"f.o/", 2)[:30], "truncated"),
        (_gnu_with_name(b"../evil"), "unsafe member name"),
        (arfmt.MAGIC + _header(b"/99", 2) + b"ok", "outside the name table"),
        (arfmt.MAGIC + _header(b"f.o/", 2, mtime=b"-5") + b"ok", "bad mtime"),
    ],
    ids=["empty", "short", "thin", "size", "fmag", "cut", "dotdot", "ref", "mtime"],
)
def test_hostile_left_untouched(tmp_path: Path, content: bytes, why: str) -> None:
    assert_left_unsupported("ar", tmp_path / "libbad.a", content, why)


def test_deb_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "pkg.deb").write_bytes(_gnu_with_name(b"debian-binary"))
    (tmp_path / "libx.a").write_bytes(b"")
    entries = {e.name: e for e in walk(str(tmp_path)).entries}
    default = ArHandler(clamp(), {})
    with_deb = ArHandler(clamp(), {"deb": True})
    assert default.wants(entries[b"libx.a"]) and not default.wants(entries[b"pkg.deb"])
    assert with_deb.wants(entries[b"pkg.deb"])
