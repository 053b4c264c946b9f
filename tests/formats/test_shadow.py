"""The shadow handler on shadow files written by the real useradd/chage, read back by chage."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from testlib import rootnorm, unavailable

from rootnorm.formats import shadow

EPOCH = 1_700_000_000  # day 19675, 2023-11-14
DAY = EPOCH // 86400
BASE = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "group": "root:x:0:\nshadow:x:42:\n",
    "shadow": "root:*:19000:0:99999:7:::\n",
    "gshadow": "root:*::\nshadow:*::\n",
}


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        unavailable(f"needs {name} (passwd package)")
    assert path is not None
    return path


def _run(*argv: str, when: str | None = None) -> str:
    if os.geteuid() != 0:
        pytest.skip("useradd -R needs root")
    cmd = [_tool(argv[0]), *argv[1:]]
    if when is not None:
        cmd = [_tool("faketime"), when, *cmd]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def _last_change(root: Path, user: str) -> str:
    out = _run("chage", "-R", str(root), "-l", user)
    found = re.search(r"^Last password change\s*:\s*(.*)$", out, re.M)
    assert found, out
    return found.group(1)


def _tree(root: Path, users: int = 2, mode: int = 0o640) -> Path:
    """A root whose shadow file real tools wrote: `users` accounts added in 2030, one with
    last change 0 (must change at next login), one without aging (empty field)."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    for name, text in BASE.items():
        (etc / name).write_text(text)
    for number in range(users):
        _run("useradd", "-R", str(root), f"late{number}", when="2030-01-01 12:00:00")
    for name in ("zero", "noage"):
        _run("useradd", "-R", str(root), name, when="2030-01-01 12:00:00")
    _run("chage", "-R", str(root), "-d", "0", "zero")
    _run("chage", "-R", str(root), "-d", "-1", "noage")
    os.chown(etc / "shadow", 0, 42)
    os.chmod(etc / "shadow", mode)
    return root


def _fields(root: Path) -> dict[str, str]:
    lines = (root / "etc/shadow").read_text().splitlines()
    return {line.split(":")[0]: line.split(":")[2] for line in lines}


@pytest.mark.parametrize("users,mode", [(2, 0o640), (40, 0o000), (3, 0o400)])
def test_clamped_and_read_back_by_chage(tmp_path: Path, users: int, mode: int) -> None:
    root = _tree(tmp_path / "root", users, mode)
    before = os.stat(root / "etc/shadow")
    gshadow = (root / "etc/gshadow").read_bytes()
    assert _fields(root)["late0"] == "21915"  # what useradd wrote under faketime
    proc = rootnorm("--profile", "ostree", "--source-date-epoch", str(EPOCH), str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fields = _fields(root)
    assert {fields[f"late{n}"] for n in range(users)} == {str(DAY)}
    assert fields["root"] == "19000"  # older than the epoch: kept
    assert fields["zero"] == "0" and fields["noage"] == ""
    assert _last_change(root, "late0") == "Nov 14, 2023"
    assert _last_change(root, "zero") == "password must be changed"
    assert _last_change(root, "noage") == "never"
    after = os.stat(root / "etc/shadow")
    assert (after.st_mode, after.st_uid, after.st_gid) == (before.st_mode, before.st_uid, 42)
    # 2 users: one sector, patched in place; 40: the new bytes go through a new inode
    assert (after.st_ino == before.st_ino) == (users < 10)
    assert (root / "etc/gshadow").read_bytes() == gshadow
    again = rootnorm("--check", "--profile", "ostree", "--source-date-epoch", str(EPOCH), str(root))
    assert again.returncode == 0, again.stdout


def test_without_epoch_reported_and_left(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root")
    data = (root / "etc/shadow").read_bytes()
    report = tmp_path / "report.json"
    proc = rootnorm("--profile", "ostree", "--report", str(report), str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (root / "etc/shadow").read_bytes() == data
    found = [f for f in json.loads(report.read_text())["files"] if f["path"] == "./etc/shadow"]
    assert [f["id"] for f in found] == ["shadow-last-change"]
    assert "21915" in found[0]["detail"]


def test_malformed_left_byte_identical(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    data = b"root:*:25000:0:99999:7:::\nbroken:line\n"
    (tmp_path / "etc/shadow").write_bytes(data)
    proc = rootnorm("--profile", "ostree", "--source-date-epoch", str(EPOCH), str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not a shadow file: line 2 has 2 fields" in proc.stdout
    assert (tmp_path / "etc/shadow").read_bytes() == data


@pytest.mark.parametrize(
    "data",
    [b"a:*:x1:0::::\n", b"a:*:1:\n", b"a:*:" + b"9" * 40 + b":::::\n", b":" * 8 + b"\n\n\n"],
)
def test_parser_bounds(data: bytes) -> None:
    try:
        result = shadow.clamp(data, DAY)
    except shadow.NotShadow:
        return
    assert len(result.data) <= len(data)


def test_audit_profile_only_reports(tmp_path: Path) -> None:
    root = _tree(tmp_path / "root")
    data = (root / "etc/shadow").read_bytes()
    report = tmp_path / "report.json"
    proc = rootnorm("--profile", "audit", f"--source-date-epoch={EPOCH}", "--report",
                    str(report), str(root))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (root / "etc/shadow").read_bytes() == data
    found = [f for f in json.loads(report.read_text())["files"] if f["path"] == "./etc/shadow"]
    assert [f["id"] for f in found] == ["shadow-last-change"]
    assert "later than SOURCE_DATE_EPOCH" in found[0]["detail"]
