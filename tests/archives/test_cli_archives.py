"""End to end: two builds of a tree with archives, through the real CLI, become identical."""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from pathlib import Path

import pytest
import xattr
from archive_helpers import BUILD_TIMES, EPOCH, cli, needs, run

ARCHIVES = (
    "usr/share/man/man1/tool.1.gz",
    "usr/share/java/app.jar",
    "usr/share/java/app-1.0.jar",
    "usr/lib64/libx.a",
)
# One record per inode: the hard-linked jar is reported under its first name.
CHANGED = {
    "./usr/share/man/man1/tool.1.gz": "gzip",
    "./usr/share/java/app-1.0.jar": "zip",
    "./usr/lib64/libx.a": "ar",
}


def _build(root: Path, build: str, variant: int) -> Path:
    """A tiny image tree as a build leaves it: archives carrying that build's time and host."""
    stamp = int(run(["date", "-d", build, "+%s"]))
    man = root / "usr/share/man/man1"
    man.mkdir(parents=True)
    (man / "tool.1").write_text(".TH TOOL 1\n" * 50)
    os.utime(man / "tool.1", (stamp, stamp))
    run(["gzip", "-9", "tool.1"], cwd=man)
    java = root / "usr/share/java"
    java.mkdir(parents=True)
    with zipfile.ZipFile(java / "app.jar", "w", zipfile.ZIP_DEFLATED) as jar:
        when = (2024 + variant, 3, 1, 10, 0, 0)
        manifest = f"Manifest-Version: 1.0\r\nBuilt-By: user{variant}\r\n\r\n"
        jar.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", when), manifest)
        jar.writestr(zipfile.ZipInfo("org/app/Main.class", when), b"\xca\xfe\xba\xbe" * 64)
    os.link(java / "app.jar", java / "app-1.0.jar")
    lib = root / "usr/lib64"
    lib.mkdir(parents=True)
    (lib / "x.o").write_bytes(b"not really an object\n")
    os.utime(lib / "x.o", (stamp, stamp))
    run(["ar", "rcU", "libx.a", "x.o"], cwd=lib)
    (lib / "x.o").unlink()
    (root / "usr/share/broken.gz").write_bytes(b"\x1f\x8b\x08\x00truncated")
    return root


def _xattrs_supported(path: Path) -> bool:
    try:
        xattr.setxattr(str(path), "user.rootnorm", b"kept")
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["rpm", "ostree"])
def test_two_builds_identical_through_the_cli(tmp_path: Path, profile: str) -> None:
    needs("gzip", "ar", "unzip")
    roots = [_build(tmp_path / f"b{i}", build, i) for i, build in enumerate(BUILD_TIMES)]
    jars = [root / ARCHIVES[1] for root in roots]
    with_xattrs = _xattrs_supported(jars[0])
    args = ("--profile", profile, "--source-date-epoch", str(EPOCH))
    for root in roots:
        report = root.parent / f"{root.name}.json"
        done = cli(*args, "--report", str(report), str(root))
        assert done.returncode == 0, done.stderr
        records = {(r["path"], r["handler"]): r for r in json.loads(report.read_text())["files"]}
        assert records[("./usr/share/broken.gz", "gzip")]["outcome"] == "unsupported"
        for path, handler in CHANGED.items():
            assert records[(path, handler)]["outcome"] == "changed"
        again = cli(*args, "--check", str(root))
        assert again.returncode == 0, again.stdout
    for rel in ARCHIVES:
        assert (roots[0] / rel).read_bytes() == (roots[1] / rel).read_bytes(), rel
    assert jars[0].stat().st_ino == (jars[0].parent / "app-1.0.jar").stat().st_ino
    if with_xattrs:
        assert xattr.getxattr(str(jars[0]), "user.rootnorm") == b"kept"
    run(["unzip", "-tq", str(jars[0])])
    run(["gzip", "-t", str(roots[0] / ARCHIVES[0])])
    assert gzip.decompress((roots[0] / ARCHIVES[0]).read_bytes()) == b".TH TOOL 1\n" * 50
    assert run(["ar", "t", str(roots[0] / ARCHIVES[3])]).split() == ["x.o"]
