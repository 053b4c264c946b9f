"""The command line as users meet it: exit codes, --check, reports, errors, idempotence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytrees import build
from testlib import SRC, rootnorm, snapshot

from rootnorm.decisions import Outcome
from rootnorm.report import EXAMPLES, Record, Report

EPOCH = "1600000000"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    build(root, ("3.11",))
    return root


def test_check_then_run_then_clean(tree: Path) -> None:
    before = snapshot(tree)
    check = rootnorm("--check", "--profile", "ostree", str(tree))
    assert check.returncode == 1
    assert "would be changed" in check.stdout
    assert snapshot(tree) == before  # --check wrote nothing
    assert rootnorm("--profile", "ostree", str(tree)).returncode == 0
    after = rootnorm("--check", "--profile", "ostree", str(tree))
    assert after.returncode == 0, after.stdout


def test_second_run_changes_nothing(tree: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": EPOCH}
    assert rootnorm("--profile", "rpm", str(tree), env=env).returncode == 0
    first = snapshot(tree)
    assert rootnorm("--profile", "rpm", str(tree), env=env).returncode == 0
    assert snapshot(tree) == first


def test_report_is_reproducible_and_relative(tree: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = rootnorm("--profile", "ostree", "--report", str(report), str(tree))
    assert proc.returncode == 0
    data = json.loads(report.read_text())
    assert data["format"] == "rootnorm-report"
    assert data["version"] == 2
    assert data["counts"]["pyc"] == {"changed": 5, "skipped": 1, "stale": 1}
    assert data["counts"]["pyc"]["stale"] == 1
    paths = [f["path"] for f in data["files"]]
    assert paths == sorted(paths)
    assert all(p.startswith("./usr/lib/pyapp/") for p in paths)
    assert str(tree) not in report.read_text()
    assert data["mtimes"] and all(m["new"] == 0 for m in data["mtimes"])


def test_rpm_without_epoch_exits_2_and_changes_nothing(tree: Path) -> None:
    before = snapshot(tree)
    proc = rootnorm("--profile", "rpm", str(tree))
    assert proc.returncode == 2
    assert "SOURCE_DATE_EPOCH" in proc.stderr
    bad = rootnorm("--profile", "rpm", str(tree), env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert bad.returncode == 2
    assert "not a non-negative integer" in bad.stderr
    assert snapshot(tree) == before


def test_flag_wins_over_environment(tree: Path) -> None:
    proc = rootnorm(
        "--profile",
        "rpm",
        "--source-date-epoch",
        "1500000000",
        str(tree),
        env={"SOURCE_DATE_EPOCH": EPOCH},
    )
    assert proc.returncode == 0
    assert os.stat(tree / "usr").st_mtime == 1500000000


def test_set_policy(tree: Path) -> None:
    proc = rootnorm(
        "--profile",
        "rpm",
        "--mtime-policy",
        "set",
        "--source-date-epoch",
        "1520598896",
        str(tree),
    )
    assert proc.returncode == 0
    assert {s.mtime_ns for s in snapshot(tree).values()} == {1520598896 * 10**9}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "nosuch"], "unknown profile"),
        ([], "ROOT is required"),
        (["--jobs", "-1"], "--jobs"),
    ],
)
def test_usage_errors(tree: Path, args: list[str], message: str) -> None:
    root = [] if message == "ROOT is required" else [str(tree)]
    proc = rootnorm(*args, *root)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_root_and_symlinked_root(tmp_path: Path, tree: Path) -> None:
    missing = rootnorm("--profile", "ostree", str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert "No such file" in missing.stderr
    link = tmp_path / "link"
    link.symlink_to(tree)
    linked = rootnorm("--profile", "ostree", str(link))
    assert linked.returncode == 2
    assert "symbolic link" in linked.stderr


def test_broken_profile_names_file_key_and_line(tmp_path: Path, tree: Path) -> None:
    profile = tmp_path / "mine.toml"
    profile.write_text(
        'exclude = "usr"\n'
        '[mtime]\npolicy = "sometimes"\n'
        '[[handler]]\nname = "pyc"\nchecked_hash = "maybe"\nstray = 1\n'
        '[[handler]]\nname = "mtime"\n'
        '[[handler]]\nname = "nosuch"\n'
    )
    proc = rootnorm("--profile", str(profile), str(tree))
    assert proc.returncode == 2
    err = proc.stderr
    assert f"{profile}:1: exclude: must be a list" in err
    assert f"{profile}:3: mtime.policy: 'sometimes' is not a policy" in err
    assert f"{profile}:6: handler[0].checked_hash: 'maybe' is not one of" in err
    assert f"{profile}:7: handler[0].stray: pyc has no such option" in err
    assert "handler[2].name: unknown handler 'nosuch'" in err
    syntax = tmp_path / "syntax.toml"
    syntax.write_text("[mtime\npolicy = 1\n")
    bad = rootnorm("--profile", str(syntax), str(tree))
    assert bad.returncode == 2
    assert "not valid TOML" in bad.stderr
    assert "line 1" in bad.stderr


def test_mtime_must_be_last(tmp_path: Path, tree: Path) -> None:
    profile = tmp_path / "order.toml"
    profile.write_text(
        '[mtime]\npolicy = "zero"\n[[handler]]\nname = "mtime"\n[[handler]]\nname = "pyc"\n'
    )
    proc = rootnorm("--profile", str(profile), str(tree))
    assert proc.returncode == 2
    assert "must be the last handler" in proc.stderr


def test_user_profile_copied_from_builtin(tmp_path: Path, tree: Path) -> None:
    shown = rootnorm("--show-profile", "ostree")
    assert shown.returncode == 0
    profile = tmp_path / "copy.toml"
    profile.write_text(shown.stdout.replace('stale = "keep"', 'stale = "remove"'))
    proc = rootnorm("--profile", str(profile), str(tree))
    assert proc.returncode == 0
    assert not list(tree.rglob("edited.cpython-311.pyc"))


def test_excludes_are_left_alone(tmp_path: Path, tree: Path) -> None:
    var = tree / "var" / "lib"
    var.mkdir(parents=True)
    repo = tree / "sysroot" / "ostree" / "repo"
    repo.mkdir(parents=True)
    (repo / "config").write_text("[core]\n")
    kept = (tree / "var", var, tree / "sysroot", repo, repo / "config")
    before = {p: p.stat().st_mtime_ns for p in kept}
    assert rootnorm("--profile", "ostree", str(tree)).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert (tree / "usr").stat().st_mtime_ns == 0
    # a user profile without those excludes still never enters the ostree repository
    mine = tmp_path / "mine.toml"
    mine.write_text('[mtime]\npolicy = "zero"\n[[handler]]\nname = "mtime"\n')
    assert rootnorm("--profile", str(mine), str(tree)).returncode == 0
    assert (tree / "sysroot").stat().st_mtime_ns == 0
    assert repo.stat().st_mtime_ns == before[repo]


def test_fail_on_stale_pycs(tree: Path) -> None:
    proc = rootnorm("--profile", "ostree", "--fail-on", "pyc-stale", str(tree))
    assert proc.returncode == 1
    assert "fail-on pyc-stale" in proc.stdout


def test_list_handlers_and_help() -> None:
    listed = rootnorm("--list-handlers")
    assert listed.returncode == 0
    assert '[[handler]]\nname = "pyc"' in listed.stdout
    assert "checked_hash" in listed.stdout
    helped = rootnorm("--help")
    assert "exit codes:" in helped.stdout


def test_closed_pipe_keeps_the_exit_code(tree: Path) -> None:
    script = (
        f"{sys.executable} -B -m rootnorm --check --verbose --profile ostree {tree} | head -1;"
        " exit ${PIPESTATUS[0]}"
    )
    proc = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC)},
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr


def test_summary_shows_a_few_of_each_notable_outcome_and_counts_the_rest() -> None:
    report = Report("ostree", "zero", False, ["pyc"])
    report.add(Record(b"usr/stale%02d.pyc" % n, "pyc", Outcome.STALE, "old") for n in range(12))
    report.add(Record(b"usr/ok%03d.pyc" % n, "pyc", Outcome.CHANGED, "new") for n in range(100))
    lines = report.summary(verbose=False)
    assert lines[2] == "  pyc: 100 changed, 12 stale"
    shown = [line for line in lines if line.startswith("  stale: ")]
    assert shown == [f"  stale: ./usr/stale{n:02d}.pyc [pyc] old" for n in range(EXAMPLES)]
    assert lines[-1] == f"  ... and {12 - EXAMPLES} more (see --report or --verbose)"
    assert not any("/usr/ok" in line for line in lines)
    verbose = report.summary(verbose=True)
    assert sum("/usr/ok" in line for line in verbose) == 100
    assert sum("/usr/stale" in line for line in verbose) == 12
