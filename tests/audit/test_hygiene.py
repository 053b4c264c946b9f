"""Image hygiene findings, and the audit profile end to end through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from audit_helpers import ids, inspect, make
from testlib import REPO, rootnorm

from rootnorm.clock import Policy
from rootnorm.decisions import Findings
from rootnorm.handlers import elf, hygiene, keystore
from rootnorm.handlers.hygiene import HygieneHandler
from rootnorm.inventory import walk

AUDIT = str(REPO / "src/rootnorm/profiles/audit.toml")
FILES = {
    "etc/machine-id": (b"0123456789abcdef0123456789abcdef\n", {"machine-id-set"}),
    "var/lib/dbus/machine-id": (b"0123456789abcdef0123456789abcdef\n", {"machine-id-set"}),
    "var/lib/systemd/random-seed": (b"\x01" * 512, {"random-seed-present"}),
    "var/lib/systemd/credential.secret": (b"\x02" * 32, {"credential-secret-present"}),
    "etc/.updated": (b"TIMESTAMP_NSEC=1\n", {"update-stamp-present"}),
    "var/.updated": (b"TIMESTAMP_NSEC=1\n", {"update-stamp-present"}),
    "opt/app/app.jsa": (b"\xc0\x5a\xca\xf0" + b"\0" * 64, {"java-cds-archive"}),
    "var/cache/man/index.db": (b"\0" * 64, {"man-db-index"}),
    "var/cache/man/de/index.db": (b"\0" * 64, {"man-db-index"}),
    "var/cache/ldconfig/aux-cache": (b"glibc-ld.so.cache" + b"\0" * 32, {"ldconfig-aux-cache"}),
    "var/log/dpkg.log": (b"2026-12-07 11:12:00 startup archives unpack\n", {"log-not-empty"}),
    "var/log/apt/history.log": (b"Start-Date: 2026-12-07  11:12:00\n", {"log-not-empty"}),
}
CLEAN = {
    "usr/lib/jvm/java-17/lib/server/classes.jsa": b"\xc0\x5a\xca\xf0" + b"\0" * 64,
    "usr/lib/jvm/java-17/lib/server/classes_nocoops.jsa": b"\xc0\x5a\xca\xf0" + b"\0" * 64,
    "usr/share/man/man1/ls.1.gz": b"\x1f\x8b" + b"\0" * 20,
    "var/lib/systemd/other": b"x",
    "var/log/empty.log": b"",
    "etc/cron.d/job": b"* * * * * root true\n",  # clamped, not zeroed: cron reads it
}


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_each_finding(tmp_path: Path) -> None:
    _tree(tmp_path, {rel: data for rel, (data, _) in FILES.items()} | CLEAN)
    handler = make(HygieneHandler)
    inventory = walk(str(tmp_path))
    wanted = {e.rel.decode() for e in inventory.entries if handler.wants(e)}
    assert wanted == set(FILES)
    for rel, (_, expected) in FILES.items():
        assert ids(inspect(handler, tmp_path, rel, inventory)) == expected, rel


def test_crontab_at_mtime_zero(tmp_path: Path) -> None:
    _tree(tmp_path, {"etc/cron.d/job": b"* * * * * root true\n", "etc/crontab": b"# x\n"})
    zero = make(HygieneHandler, policy=Policy.ZERO)
    decision = inspect(zero, tmp_path, "etc/crontab")
    assert ids(decision) == {"crontab-mtime-zero"}
    assert isinstance(decision, Findings) and "/etc/cron.d: job" in decision.items[0].detail
    clamp = make(HygieneHandler)
    assert not any(clamp.wants(e) for e in walk(str(tmp_path)).entries)


def test_machine_id_for_first_boot_is_fine(tmp_path: Path) -> None:
    _tree(tmp_path, {"etc/machine-id": b"uninitialized\n", "var/lib/systemd/random-seed": b""})
    handler = make(HygieneHandler)
    assert inspect(handler, tmp_path, "etc/machine-id") is None
    assert not any(handler.wants(e) for e in walk(str(tmp_path)).entries if e.size == 0)


def test_every_finding_id_is_documented() -> None:
    text = (REPO / "docs/findings.md").read_text()
    documented = set(re.findall(r"^### `([a-z0-9-]+)`", text, re.M))
    emitted = set(hygiene.FINDINGS) | set(elf.FINDINGS)
    emitted |= {"fontconfig-stale", "fontconfig-unsupported", "elf-unsupported"}
    emitted |= set(keystore.FINDINGS) | {"fontconfig-excluded", "shadow-last-change"}
    emitted |= {"groovy-timestamp"}
    assert emitted <= documented  # all of them: test_cli_edges.py


def test_audit_profile_end_to_end(tmp_path: Path) -> None:
    _tree(tmp_path, {rel: data for rel, (data, _) in FILES.items()} | CLEAN)
    (tmp_path / "usr/bin").mkdir(parents=True, exist_ok=True)
    (tmp_path / "usr/bin/broken").write_bytes(b"\x7fELF\x02\x01\x01" + b"\xff" * 200)
    report = tmp_path.parent / "report.json"
    proc = rootnorm("--check", "--profile", AUDIT, "--report", str(report), str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr  # findings alone do not fail a run
    data = json.loads(report.read_text())
    found = {(f["path"], f.get("id")) for f in data["files"]}
    expected = {(f"./{rel}", i) for rel, (_, ids_) in FILES.items() for i in ids_}
    assert found == expected | {("./usr/bin/broken", None)}
    assert all(f["advice"] for f in data["files"] if "id" in f)
    gate = rootnorm("--check", "--profile", AUDIT, "--fail-on", "machine-id-set", str(tmp_path))
    assert gate.returncode == 1
    assert "fail-on machine-id-set: ./etc/machine-id" in gate.stdout
    broken = rootnorm("--check", "--profile", AUDIT, "--fail-on", "elf-unsupported", str(tmp_path))
    assert broken.returncode == 1
    assert "fail-on elf-unsupported: ./usr/bin/broken" in broken.stdout
    other = rootnorm("--check", "--profile", AUDIT, "--fail-on", "elf-build-path", str(tmp_path))
    assert other.returncode == 0, other.stdout
