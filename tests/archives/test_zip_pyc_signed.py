"""Content the signature or zipimport depends on: signed jars, timestamp pycs beside sources."""

from __future__ import annotations

import calendar
import importlib.util
import marshal
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from archive_helpers import clamp, inspect, needs, normalise, run, zero

from rootnorm.archives import zipcontent
from rootnorm.decisions import Rewrite
from rootnorm.handlers.base import Settings

BUILD = (2024, 3, 1, 10, 0, 0)
SOURCE = b"VALUE = 'from source'\n"


def _pyc(mtime: int, size: int) -> bytes:
    code = compile("VALUE = 'from pyc'\n", "mod.py", "exec")
    return importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, mtime, size) + marshal.dumps(code)


def _egg(path: Path, pyc_mtime: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mod.py", BUILD), SOURCE, zipfile.ZIP_DEFLATED)
        archive.writestr(
            zipfile.ZipInfo("mod.pyc", BUILD), _pyc(pyc_mtime, len(SOURCE)), zipfile.ZIP_DEFLATED
        )
    return path


def _imported_value(path: Path) -> str:
    """What a real interpreter imports from the zip: the pyc's value only when it is fresh."""
    code = f"import sys; sys.path.insert(0, {str(path)!r}); import mod; print(mod.VALUE)"
    return run([sys.executable, "-I", "-c", code]).strip()


@pytest.mark.parametrize("settings", [clamp(), zero()], ids=["clamp", "ostree"])
def test_zipimport_keeps_using_the_pyc(tmp_path: Path, settings: Settings) -> None:
    path = _egg(tmp_path / "mod.egg", calendar.timegm(BUILD))
    assert _imported_value(path) == "from pyc"
    decision = normalise("zip", path, settings)
    assert isinstance(decision, Rewrite)
    assert "pyc source mtimes" in decision.what
    assert _imported_value(path) == "from pyc"
    assert inspect("zip", path, settings) is None
    run(["unzip", "-tq", str(path)])


def test_pyc_fresh_in_another_time_zone_is_fixed_for_utc(tmp_path: Path) -> None:
    path = _egg(tmp_path / "mod.egg", calendar.timegm(BUILD) - 3600)  # built in UTC+1
    assert _imported_value(path) == "from source"  # the test runs in UTC
    normalise("zip", path, clamp())
    assert _imported_value(path) == "from pyc"


def test_stale_pyc_stays_stale(tmp_path: Path) -> None:
    path = _egg(tmp_path / "mod.egg", calendar.timegm(BUILD) - 12345)
    normalise("zip", path, clamp())
    assert _imported_value(path) == "from source"
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("mod.pyc").compress_type == zipfile.ZIP_DEFLATED


def test_was_fresh() -> None:
    assert zipcontent.was_fresh(1000, 1000, None)
    assert zipcontent.was_fresh(1000 + 5 * 3600 + 1, 1000, None)
    assert zipcontent.was_fresh(1000 - 5 * 3600 - 1800, 1000, None)
    assert not zipcontent.was_fresh(1000 + 600, 1000, None)
    assert not zipcontent.was_fresh(1000 + 15 * 3600, 1000, None)
    assert zipcontent.was_fresh(777, 1000, 778)


def test_manifest_attributes_dropped_with_continuations() -> None:
    text = (
        b"Manifest-Version: 1.0\r\nbuilt-by: someone with a very long\r\n  name\r\n"
        b"Created-By: jar\r\nBnd-LastModified: 1\r\n\r\nName: a\r\nBuilt-By: x\r\n\r\n"
    )
    assert zipcontent.drop_manifest_attributes(text, ("Built-By", "Bnd-LastModified")) == (
        b"Manifest-Version: 1.0\r\nCreated-By: jar\r\n\r\nName: a\r\n\r\n"
    )


@pytest.mark.slow
def test_signed_jar_still_verifies(tmp_path: Path) -> None:
    needs("jar", "keytool", "jarsigner", "faketime")
    (tmp_path / "a.txt").write_text("payload\n")
    (tmp_path / "manifest").write_text("Built-By: signer\n")
    jar = tmp_path / "signed.jar"
    run(["jar", "cfm", str(jar), "manifest", "a.txt"], cwd=tmp_path, faketime="2025-01-01")
    store = ["-keystore", str(tmp_path / "ks"), "-storepass", "secret"]
    run(
        [
            "keytool",
            "-genkeypair",
            *store,
            "-keypass",
            "secret",
            "-alias",
            "k",
            "-dname",
            "CN=rootnorm",
            "-keyalg",
            "EC",
            "-validity",
            "3650",
        ]
    )
    run(["jarsigner", *store, str(jar), "k"])
    with zipfile.ZipFile(jar) as archive:
        before = {info.filename: archive.read(info) for info in archive.infolist()}
    assert isinstance(normalise("zip", jar, clamp()), Rewrite)
    with zipfile.ZipFile(jar) as archive:
        after = {info.filename: archive.read(info) for info in archive.infolist()}
        names = archive.namelist()
    assert after == before  # the manifest keeps Built-By: the signature covers it
    assert names[:2] == ["META-INF/", "META-INF/MANIFEST.MF"]
    assert "jar verified" in run(["jarsigner", "-verify", str(jar)])


def _large_egg(path: Path, when: tuple[int, ...]) -> Path:
    """A zip of a .py and a pyc of about 4 MB that deflates to a few KB (the issue's 1.04 MB
    archive grew 1000x when its pyc was stored back uncompressed)."""
    source = b"DATA = b'" + b"x" * 4_000_000 + b"'\n"
    code = compile(source.replace(b"x", b"y"), "big.py", "exec")  # tells which one ran
    header = importlib.util.MAGIC_NUMBER + struct.pack(
        "<III", 0, calendar.timegm(when), len(source)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("big.py", when), source, zipfile.ZIP_DEFLATED)
        pyc = zipfile.ZipInfo("big.pyc", when)
        archive.writestr(pyc, header + marshal.dumps(code), zipfile.ZIP_DEFLATED)
    return path


def test_patched_pyc_stays_deflated_and_reproducible(tmp_path: Path) -> None:
    paths = [_large_egg(tmp_path / f"b{k}.egg", (2024 + k, 3, 1, 10, 0, 0)) for k in (0, 1)]
    before = paths[0].stat().st_size
    with zipfile.ZipFile(paths[0]) as archive:
        big_py = archive.getinfo("big.py").compress_size
    for path in paths:
        decision = normalise("zip", path, clamp())
        assert isinstance(decision, Rewrite) and "pyc source mtimes" in decision.what
        assert inspect("zip", path, clamp()) is None
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert abs(paths[0].stat().st_size - before) < 1024  # not 4 MB more
    with zipfile.ZipFile(paths[0]) as archive:
        info = archive.getinfo("big.pyc")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.compress_size < 64 << 10
        assert archive.getinfo("big.py").compress_size == big_py  # copied, not recompressed
        assert archive.testzip() is None
    run(["unzip", "-tq", str(paths[0])])
    code = f"import sys; sys.path.insert(0, {str(paths[0])!r}); import big; print(big.DATA[:3])"
    assert run([sys.executable, "-I", "-c", code]).strip() == "b'yyy'"  # from the pyc


def test_edited_manifest_stays_deflated(tmp_path: Path) -> None:
    path = tmp_path / "app.jar"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as jar:
        text = "Manifest-Version: 1.0\r\nBuilt-By: me\r\n" + "X-Pad: padding\r\n" * 200 + "\r\n"
        jar.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", BUILD), text, zipfile.ZIP_DEFLATED)
    assert isinstance(normalise("zip", path, clamp()), Rewrite)
    with zipfile.ZipFile(path) as jar:
        info = jar.getinfo("META-INF/MANIFEST.MF")
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size < 200
        assert b"Built-By" not in jar.read(info)
