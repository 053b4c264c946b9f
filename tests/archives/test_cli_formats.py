"""End to end: two builds of a tree with catalogues, images and javadoc pages, through the
real CLI and the one writer, become identical; hard links, xattrs and mode survive."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import xattr
from archive_helpers import BUILD_TIMES, EPOCH, cli, required, run
from testlib import unavailable

CONVERT = "/usr/bin/convert"
FILES = (
    "usr/share/locale/de/LC_MESSAGES/demo.mo",
    "usr/share/locale/de_AT/LC_MESSAGES/demo.mo",
    "usr/share/icons/demo.png",
    "usr/share/doc/demo/api/demo/Demo.html",
)
PO = """\
msgid ""
msgstr ""
"PO-Revision-Date: {date}\\n"
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Hello"
msgstr "Hallo"
"""


def _build(root: Path, build: str) -> Path:
    env = {**os.environ, "TZ": "UTC"}
    locale = root / "usr/share/locale/de/LC_MESSAGES"
    locale.mkdir(parents=True)
    date = run(["date", "-d", build, "+%Y-%m-%d %H:%M%z"]).strip()
    (root / "de.po").write_text(PO.format(date=date))
    run(["msgfmt", "-o", str(locale / "demo.mo"), str(root / "de.po")])
    (root / "de.po").unlink()
    other = root / "usr/share/locale/de_AT/LC_MESSAGES"
    other.mkdir(parents=True)
    os.link(locale / "demo.mo", other / "demo.mo")  # one inode, two names
    icons = root / "usr/share/icons"
    icons.mkdir(parents=True)
    run([CONVERT, "-size", "16x16", "xc:red", str(icons / "demo.png")], faketime=build)
    (icons / "demo.png").chmod(0o600)
    (icons / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDRtruncated")
    (root / "usr/share/locale/broken.mo").write_bytes(b"\xde\x12\x04\x95short")
    src = root / "tmp-src/demo"
    src.mkdir(parents=True)
    (src / "Demo.java").write_text("package demo;\n/** Demo. */\npublic class Demo {}\n")
    api = root / "usr/share/doc/demo/api"
    javadoc = ["javadoc", "-quiet", "-d", str(api), "-sourcepath", str(src.parent), "demo"]
    subprocess.run(["faketime", build, *javadoc], env=env, check=True, capture_output=True)
    shutil.rmtree(root / "tmp-src")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["rpm", "ostree"])
def test_two_builds_identical_through_the_cli(tmp_path: Path, profile: str) -> None:
    required("msgfmt", "msgunfmt", "javadoc", "faketime", "pngcheck")
    if not os.path.exists(CONVERT):
        unavailable("ImageMagick's convert (Debian imagemagick)")
    roots = [_build(tmp_path / f"b{i}", build) for i, build in enumerate(BUILD_TIMES)]
    pngs = [root / FILES[2] for root in roots]
    try:
        for png in pngs:
            xattr.setxattr(str(png), "user.rootnorm", b"kept")
        with_xattrs = True
    except OSError:
        with_xattrs = False
    args = ("--profile", profile, "--source-date-epoch", str(EPOCH))
    for root in roots:
        report = root.parent / f"{root.name}.json"
        done = cli(*args, "--report", str(report), str(root))
        assert done.returncode == 0, done.stdout + done.stderr
        records = {(r["path"], r["handler"]): r for r in json.loads(report.read_text())["files"]}
        assert records[("./usr/share/icons/broken.png", "png")]["outcome"] == "unsupported"
        assert records[("./usr/share/locale/broken.mo", "mo")]["outcome"] == "unsupported"
        assert records[("./" + FILES[2], "png")]["outcome"] == "changed"
        assert records[("./" + FILES[3], "javadoc")]["outcome"] == "changed"
        mo = {
            r["path"]
            for r in records.values()
            if r["handler"] == "mo" and r["outcome"] == "changed"
        }
        assert len(mo) == 1  # one record per inode
        again = cli(*args, "--check", str(root))
        assert again.returncode == 0, again.stdout
    for rel in FILES:
        assert (roots[0] / rel).read_bytes() == (roots[1] / rel).read_bytes(), rel
    for root in roots:
        first, second = (root / FILES[0]).stat(), (root / FILES[1]).stat()
        assert first.st_ino == second.st_ino and first.st_nlink == 2
        assert stat.S_IMODE((root / FILES[2]).stat().st_mode) == 0o600
    if with_xattrs:
        assert all(xattr.getxattr(str(png), "user.rootnorm") == b"kept" for png in pngs)
    assert b"Hallo" in (roots[0] / FILES[0]).read_bytes()
    run(["msgunfmt", str(roots[0] / FILES[0])])
    run(["pngcheck", "-q", str(pngs[0])])
