"""Groovy's compile-time field in classes inside jars, made by the real javac and jar (a Java
class may declare a field with the very name Groovy < 2.5 adds)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from testlib import rootnorm, unavailable

from rootnorm.archives.plan import Unsupported
from rootnorm.formats import groovy

FIELD = "__timeStamp__239_neverHappen1700000000123"
SOURCES = {
    "app/Script.java": f"package app; public class Script {{ public static Long {FIELD} = 0L; }}",
    "app/Plain.java": "package app; public class Plain { public static int neverHappen = 1; }",
}


@pytest.fixture(scope="module")
def jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("javac") is None or shutil.which("jar") is None:
        unavailable("needs javac and jar (default-jdk-headless)")
    work = tmp_path_factory.mktemp("groovy")
    for rel, text in SOURCES.items():
        (work / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / "src" / rel).write_text(text)
    sources = [str(work / "src" / rel) for rel in SOURCES]
    subprocess.run(["javac", "-d", str(work / "classes"), *sources], check=True)
    out = work / "root/usr/share/java/app.jar"
    out.parent.mkdir(parents=True)
    subprocess.run(["jar", "cf", str(out), "-C", str(work / "classes"), "."], check=True)
    return work / "root"


def test_jar_and_class_reported(jar: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = rootnorm("--check", "--profile", "audit", "--report", str(report), str(jar))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = [
        f for f in json.loads(report.read_text())["files"] if f.get("id") == "groovy-timestamp"
    ]
    assert [f["path"] for f in found] == ["./usr/share/java/app.jar"]
    assert f"app/Script.class ({FIELD})" in found[0]["detail"]
    assert "Plain" not in found[0]["detail"]


def test_scan_is_bounded_and_refuses_bad_zips() -> None:
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_DEFLATED) as archive:
        # the field beyond the first MiB of a class is not looked for
        archive.writestr(
            "Big.class", b"\xca\xfe\xba\xbe" + bytes(groovy.CLASS_LIMIT) + FIELD.encode()
        )
        archive.writestr("Small.class", b"\xca\xfe\xba\xbe" + FIELD.encode() + b"\x01")
        archive.writestr("NotAClass.class", FIELD.encode() + b"\x01")
    data = stored.getvalue()
    assert groovy.timestamped_classes(io.BytesIO(data), len(data)) == [("Small.class", FIELD)]
    with pytest.raises(Unsupported):
        groovy.timestamped_classes(io.BytesIO(data[:-30]), len(data) - 30)
