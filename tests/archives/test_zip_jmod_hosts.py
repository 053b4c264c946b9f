"""JDK modules (`.jmod`: a 4-byte header, then a zip) and entries made on other hosts."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from archive_helpers import BUILD_TIMES, clamp, inspect, needs, normalise, run

from rootnorm.decisions import Rewrite

JDK_JMODS = Path("/usr/lib/jvm/default-java/jmods")


def _jmod(tmp_path: Path, build: str, k: int) -> Path:
    source = tmp_path / f"src{k}"
    (source / "p").mkdir(parents=True)
    (source / "module-info.java").write_text("module m { exports p; }\n")
    (source / "p" / "A.java").write_text("package p; public class A {}\n")
    classes = tmp_path / f"classes{k}"
    run(["javac", "-d", str(classes), *map(str, sorted(source.rglob("*.java")))], faketime=build)
    out = tmp_path / f"m{k}.jmod"
    run(["jmod", "create", "--class-path", str(classes), str(out)], faketime=build)
    return out


@pytest.mark.slow
def test_jmod_builds_become_identical(tmp_path: Path) -> None:
    needs("javac", "jmod", "faketime")
    paths = [_jmod(tmp_path, build, k) for k, build in enumerate(BUILD_TIMES)]
    assert paths[0].read_bytes() != paths[1].read_bytes()
    for path in paths:
        assert path.read_bytes()[:4] == b"JM\x01\x00"
        assert isinstance(normalise("zip", path, clamp()), Rewrite)
        assert inspect("zip", path, clamp()) is None
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes()[:4] == b"JM\x01\x00"
    assert "exports p" in run(["jmod", "describe", str(paths[0])])
    listing = run(["jmod", "list", str(paths[0])]).split()
    assert sorted(listing) == ["classes/module-info.class", "classes/p/A.class"]


def test_jdk_jmod_normalised_and_still_read_by_jmod(tmp_path: Path) -> None:
    needs("jmod")
    original = JDK_JMODS / "java.sql.jmod"
    if not original.is_file():
        pytest.skip(f"no {original}")
    path = tmp_path / original.name
    shutil.copyfile(original, path)
    before = run(["jmod", "list", str(path)]).split()
    assert isinstance(normalise("zip", path, clamp()), Rewrite)
    assert inspect("zip", path, clamp()) is None
    assert sorted(run(["jmod", "list", str(path)]).split()) == sorted(before)
    assert run(["jmod", "describe", str(path)]).startswith("java.sql@")


def _dos_zip(path: Path, when: tuple[int, ...]) -> Path:
    """Entries as a Windows packer leaves them: host MS-DOS (0), DOS attribute bits only."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, attributes in (("dir/", 0x10), ("dir/a.txt", 0x20), ("b.txt", 0x21)):
            info = zipfile.ZipInfo(name, when)
            info.create_system = 0
            info.external_attr = attributes
            archive.writestr(info, b"" if name.endswith("/") else name.encode() * 20)
    path.write_bytes(sink.getvalue())
    return path


def test_other_hosts_become_unix_0644_0755(tmp_path: Path) -> None:
    paths = [_dos_zip(tmp_path / f"b{k}.zip", (2024 + k, 1, 1, 0, 0, 0)) for k in (0, 1)]
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert {info.create_system for info in archive.infolist()} == {0}
        assert isinstance(normalise("zip", path, clamp()), Rewrite)
        assert inspect("zip", path, clamp()) is None
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with zipfile.ZipFile(paths[0]) as archive:
        modes = {
            info.filename: (info.create_system, info.external_attr) for info in archive.infolist()
        }
    assert modes == {
        "b.txt": (3, 0o100644 << 16),
        "dir/": (3, 0o40755 << 16 | 0x10),
        "dir/a.txt": (3, 0o100644 << 16),
    }
    listing = run(["zipinfo", str(paths[0])])
    assert "drwxr-xr-x  2.0 unx" in listing and "-rw-r--r--  2.0 unx" in listing
