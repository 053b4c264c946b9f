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
