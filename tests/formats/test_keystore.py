"""The keystore handler on stores made by the real keytool at two times, loaded back by keytool
and by Java's KeyStore (which checks the digest), and on Debian's cacerts."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from testlib import rootnorm, unavailable

from rootnorm.formats import jks

HERE = Path(__file__).resolve().parent
EPOCH = 1_700_000_000
TIMES = ("2030-01-01 00:00:00", "2031-05-01 12:00:00")
DEBIAN_CACERTS = Path("/etc/ssl/certs/java/cacerts")


def _keytool(*args: str, when: str | None = None, check: bool = True) -> str:
    if shutil.which("keytool") is None or shutil.which("faketime") is None:
        unavailable("needs keytool (default-jdk-headless) and faketime")
    cmd = ["keytool", *args]
    if when is not None:
        cmd = ["faketime", when, *cmd]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 or not check, proc.stdout + proc.stderr
    return proc.stdout


def _java_dates(*stores: tuple[str, Path]) -> list[str]:
    """What Java's KeyStore.load (digest checked) reads: path, alias, creation date (ms)."""
    args = [str(part) for kind, path in stores for part in (kind, path)]
    proc = subprocess.run(
        ["java", str(HERE / "LoadKeystores.java"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n")[:-1]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two builds, each with a JKS and a JCEKS store of the same certificate made at its own
    time, one JKS with a private key entry, and one store with another password."""
    work = tmp_path_factory.mktemp("stores")
    p12 = work / "key.p12"
    common = ("-storepass", "changeit", "-noprompt")
    _keytool("-genkeypair", "-alias", "key", "-keyalg", "EC", "-groupname", "secp256r1",
             "-dname", "CN=rootnorm", "-validity", "3650", "-keystore", str(p12),
             "-storetype", "PKCS12", "-keypass", "changeit", *common)  # fmt: skip
    pem = work / "cert.pem"
    _keytool("-exportcert", "-rfc", "-alias", "key", "-keystore", str(p12), "-file", str(pem),
             *common)  # fmt: skip
    for build, when in enumerate(TIMES):
        java = work / f"build{build}" / "etc/ssl/certs/java"
        java.mkdir(parents=True)
        for kind, name in (("JKS", "cacerts"), ("JCEKS", "trust.jceks")):
            _keytool("-importcert", "-alias", "ca", "-file", str(pem), "-keystore",
                     str(java / name), "-storetype", kind, *common, when=when)  # fmt: skip
    keys = work / "build0/opt/app/keys.jks"
    keys.parent.mkdir(parents=True)
    _keytool("-importkeystore", "-srckeystore", str(p12), "-srcstoretype", "PKCS12",
             "-srcstorepass", "changeit", "-destkeystore", str(keys), "-deststoretype", "JKS",
             "-deststorepass", "changeit", "-noprompt", when=TIMES[0])  # fmt: skip
    other = work / "build0/opt/app/other.jks"
    _keytool("-importcert", "-alias", "ca", "-file", str(pem), "-keystore", str(other),
             "-storetype", "JKS", "-storepass", "secret-1", "-noprompt", when=TIMES[0])  # fmt: skip
    shutil.copyfile(p12, work / "build0/opt/app/key.p12")
    return work


@pytest.mark.slow
def test_two_builds_identical_and_loadable(stores: Path, tmp_path: Path) -> None:
    builds = [tmp_path / "b0", tmp_path / "b1"]
    for build, copy in enumerate(builds):
        shutil.copytree(stores / f"build{build}", copy)
    java = "etc/ssl/certs/java"
    first, second = (copy / java / "cacerts" for copy in builds)
    assert first.read_bytes() != second.read_bytes()
    untouched = {
        name: (builds[0] / "opt/app" / name).read_bytes() for name in ("other.jks", "key.p12")
    }
    report = tmp_path / "report.json"
    for copy in builds:
        proc = rootnorm("--profile", "ostree", "--report", str(report), str(copy))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("cacerts", "trust.jceks"):
        assert (builds[0] / java / name).read_bytes() == (builds[1] / java / name).read_bytes()
    for name, data in untouched.items():
        assert (builds[0] / "opt/app" / name).read_bytes() == data
    found = {f["path"]: f.get("id") for f in json.loads(report.read_text())["files"]}
    assert found["./etc/ssl/certs/java/cacerts"] is None  # changed, not a finding
    loaded = _java_dates(
        ("JKS", builds[0] / java / "cacerts"),
        ("JCEKS", builds[0] / java / "trust.jceks"),
        ("JKS", builds[0] / "opt/app/keys.jks"),
    )
    assert [line.rsplit(" ", 2)[1:] for line in loaded] == [["ca", "0"]] * 2 + [["key", "0"]]
    listing = _keytool("-list", "-keystore", str(builds[0] / java / "cacerts"),
                       "-storepass", "changeit")  # fmt: skip
    assert "ca, Jan 1, 1970, trustedCertEntry" in listing
    again = rootnorm("--check", "--profile", "ostree", str(builds[0]))
    assert again.returncode == 0, again.stdout


@pytest.mark.slow
def test_other_password_and_pkcs12_reported(stores: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(stores / "build0", tree)
    report = tmp_path / "report.json"
    proc = rootnorm("--check", "--profile", "ostree", "--report", str(report), str(tree))
    found = {f["path"]: f.get("id") for f in json.loads(report.read_text())["files"]}
    assert found["./opt/app/other.jks"] == "keystore-password", proc.stdout
    assert found["./opt/app/key.p12"] == "keystore-pkcs12"
    assert "./opt/app/keys.jks" in found


@pytest.mark.slow
def test_clamped_per_policy(stores: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(stores / "build1", tree)
    proc = rootnorm("--profile", "rpm", "--source-date-epoch", str(EPOCH), str(tree))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = (tree / "etc/ssl/certs/java/cacerts").read_bytes()
    store = jks.parse(data)
    assert [ms for _, ms in store.dates] == [EPOCH * 1000]
    assert jks.verifies(data, store, "changeit")


def test_debian_cacerts(tmp_path: Path) -> None:
    if not DEBIAN_CACERTS.is_file():
        unavailable("needs Debian's ca-certificates-java")
    java = tmp_path / "etc/ssl/certs/java"
    java.mkdir(parents=True)
    shutil.copyfile(DEBIAN_CACERTS, java / "cacerts")
    os.chmod(java / "cacerts", 0o644)
    before = jks.parse((java / "cacerts").read_bytes())
    assert len(before.dates) > 100 and any(ms for _, ms in before.dates)
    proc = rootnorm("--profile", "ostree", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loaded = _java_dates(("JKS", java / "cacerts"))
    assert len(loaded) == len(before.dates) and {line.rsplit(" ", 1)[1] for line in loaded} == {"0"}


@pytest.mark.slow
def test_parser_bounds(stores: Path) -> None:
    """Every truncation of a real store and a crafted count fail cleanly, without allocating."""
    data = (stores / "build0/opt/app/keys.jks").read_bytes()
    for size in range(len(data) - jks.DIGEST_SIZE):
        with pytest.raises(jks.NotAKeystore):
            jks.parse(data[:size] + bytes(20))
    crafted = struct.pack(">III", jks.JKS_MAGIC, 2, 0xFFFFFFFF) + bytes(40)
    with pytest.raises(jks.NotAKeystore, match="cannot fit"):
        jks.parse(crafted)
