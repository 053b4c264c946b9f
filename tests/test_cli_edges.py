"""What a new user meets at the edges of the command line (issue 14): bad values refused
before anything is written, no false alarms, the same numbers in --check and a real run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytrees import build
from testlib import REPO, rootnorm, snapshot, unavailable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    build(root, ("3.11",))
    return root


def _write_profile(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- ROOT ------------------------------------------------------------------------------------


def test_empty_root_is_a_usage_error(tree: Path) -> None:
    before = snapshot(tree)
    proc = rootnorm("--profile", "ostree", "", cwd=tree)
    assert proc.returncode == 2, proc.stdout
    assert "ROOT is an empty string" in proc.stderr
    assert snapshot(tree) == before


def test_summary_names_the_root_and_shows_paths_relative_to_it(tree: Path) -> None:
    proc = rootnorm("--check", "--profile", "ostree", str(tree))
    assert f"ROOT {tree} (paths below are relative to it)" in proc.stdout
    stale = [line for line in proc.stdout.splitlines() if line.startswith("  stale:")]
    assert stale and all(line.startswith("  stale: ./usr/lib/pyapp/") for line in stale)
    mtimes = [line for line in proc.stdout.splitlines() if line.startswith("  mtime: .")]
    assert mtimes and all(line.startswith(("  mtime: ./", "  mtime: . ")) for line in mtimes)


# --- SOURCE_DATE_EPOCH -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("99999999999999999999", "too large"),
        ("5000000000", "too large"),
        ("1700000000000", "milliseconds"),
        ("²", "ASCII digits"),
        ("٣", "ASCII digits"),
        ("+5", "ASCII digits"),
        (" 5", "ASCII digits"),
    ],
)
def test_bad_epoch_refused_before_anything_is_written(tree: Path, value: str, why: str) -> None:
    before = snapshot(tree)
    flag = rootnorm("--mtime-policy", "set", "--source-date-epoch", value, str(tree))
    assert flag.returncode == 2, flag.stderr
    assert why in flag.stderr and "Traceback" not in flag.stderr
    unused = rootnorm("--profile", "ostree", "--source-date-epoch", value, str(tree))
    assert unused.returncode == 2, unused.stderr
    env = rootnorm("--profile", "rpm", str(tree), env={"SOURCE_DATE_EPOCH": value})
    assert env.returncode == 2, env.stderr
    assert "SOURCE_DATE_EPOCH=" in env.stderr
    assert snapshot(tree) == before


def test_largest_epoch_works_everywhere(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/share").mkdir(parents=True)
    data = root / "usr/share/a.txt"
    data.write_bytes(b"a\n" * 100)
    subprocess.run(["gzip", "-k", str(data)], check=True)  # stores the file's mtime
    os.utime(root / "usr/share/a.txt.gz", (5_000_000_000, 5_000_000_000))
    proc = rootnorm("--profile", "rpm", "--source-date-epoch", "4294967295", str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "in the future" in proc.stderr
    assert (root / "usr/share/a.txt.gz").stat().st_mtime == 4294967295


def test_future_epoch_warns(tree: Path) -> None:
    future = str(int(time.time()) + 10 * 365 * 86400)
    proc = rootnorm("--profile", "rpm", "--source-date-epoch", future, str(tree))
    assert proc.returncode == 0, proc.stderr
    assert f"warning: --source-date-epoch={future}" in proc.stderr
    assert "in the future" in proc.stderr


def test_profile_value_beyond_32_bits_refused(tree: Path, tmp_path: Path) -> None:
    profile = _write_profile(
        tmp_path / "big.toml",
        '[mtime]\npolicy = "set"\nvalue = 5000000000\n\n[[handler]]\nname = "mtime"\n',
    )
    before = snapshot(tree)
    proc = rootnorm("--profile", str(profile), str(tree))
    assert proc.returncode == 2
    assert "mtime.value" in proc.stderr and "4294967295" in proc.stderr
    assert snapshot(tree) == before


# --- --fail-on and --list-findings -----------------------------------------------------------


def test_unknown_fail_on_id_is_a_usage_error(tree: Path) -> None:
    proc = rootnorm("--check", "--profile", "ostree", "--fail-on", "pyc-stal,bogus", str(tree))
    assert proc.returncode == 2
    assert "unknown id bogus, pyc-stal" in proc.stderr
    assert "pyc-stale" in proc.stderr and "--list-findings" in proc.stderr
    gate = rootnorm("--check", "--profile", "ostree", "--fail-on", "pyc-stale", str(tree))
    assert gate.returncode == 1
    assert "fail-on pyc-stale: ./usr/lib/pyapp/" in gate.stdout


def test_list_findings_names_every_id() -> None:
    from rootnorm import findings

    proc = rootnorm("--list-findings")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.splitlines()]
    assert listed == [kind.id for kind in findings.KINDS]


def test_docs_and_code_list_the_same_findings() -> None:
    from rootnorm import findings
    from rootnorm.handlers import elf, hygiene, pyc

    docs = (REPO / "docs/findings.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `([a-z0-9-]+)`$", docs, re.MULTILINE))
    assert headings == findings.IDS
    assert findings.markdown_index() in docs
    emitted = set(elf.FINDINGS) | set(hygiene.FINDINGS) | {pyc.EMPTY_SOURCE_PRE37.id}
    assert emitted <= findings.IDS


# --- --report --------------------------------------------------------------------------------


def test_report_dash_is_standard_output(tree: Path, tmp_path: Path) -> None:
    proc = rootnorm("--check", "--profile", "ostree", "--report", "-", str(tree), cwd=tmp_path)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["format"] == "rootnorm-report"
    assert "would be changed" in proc.stderr  # the summary moved out of the JSON's way
    assert not (tmp_path / "-").exists()


def test_report_dash_into_a_closed_pipe_keeps_the_exit_code(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    for n in range(3000):  # a report larger than a pipe's buffer
        (root / f"d/f{n}").write_bytes(b"")
    script = (
        f"{sys.executable} -B -m rootnorm --check --profile ostree --report - {root} | head -1;"
        " exit ${PIPESTATUS[0]}"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "{\n" and "internal error" not in proc.stderr


def test_unwritable_report_refused_before_anything_changes(tree: Path, tmp_path: Path) -> None:
    before = snapshot(tree)
    for target in (tmp_path / "missing-dir" / "r.json", tmp_path):
        proc = rootnorm("--profile", "ostree", "--report", str(target), str(tree))
        assert proc.returncode == 2, proc.stderr
        assert "--report" in proc.stderr
        assert snapshot(tree) == before


def test_report_inside_root_refused_unless_excluded(tree: Path) -> None:
    before = snapshot(tree)
    inside = rootnorm("--profile", "ostree", "--report", str(tree / "report.json"), str(tree))
    assert inside.returncode == 2
    assert "inside ROOT" in inside.stderr
    assert snapshot(tree) == before
    (tree / "tmp").mkdir()  # the ostree profile excludes /tmp
    excluded = rootnorm("--profile", "ostree", "--report", str(tree / "tmp/r.json"), str(tree))
    assert excluded.returncode == 0, excluded.stderr
    assert json.loads((tree / "tmp/r.json").read_text())["profile"] == "ostree"
    assert rootnorm("--check", "--profile", "ostree", str(tree)).returncode == 0


# --- profiles --------------------------------------------------------------------------------


def test_policy_without_mtime_handler_says_so(tree: Path, tmp_path: Path) -> None:
    profile = _write_profile(
        tmp_path / "nomtime.toml", '[mtime]\npolicy = "zero"\n\n[[handler]]\nname = "pyc"\n'
    )
    proc = rootnorm("--profile", str(profile), str(tree))
    assert proc.returncode == 0
    assert "no mtime handler: no entry's mtime will be changed" in proc.stderr
    empty = _write_profile(tmp_path / "empty.toml", 'description = "nothing"\n')
    proc = rootnorm("--profile", str(empty), str(tree))
    assert "has no [[handler]]: nothing will be inspected or changed" in proc.stderr


def test_missing_profile_file_says_it_does_not_exist(tree: Path) -> None:
    proc = rootnorm("--profile", "nonexist.toml", str(tree))
    assert proc.returncode == 2
    assert "profile file nonexist.toml does not exist" in proc.stderr
    named = rootnorm("--profile", "ostre", str(tree))
    assert "unknown profile 'ostre'" in named.stderr
    directory = rootnorm("--profile", str(tree), str(tree))
    assert directory.returncode == 2 and "is not a file" in directory.stderr


def test_list_handlers_is_a_valid_profile(tmp_path: Path) -> None:
    proc = rootnorm("--list-handlers")
    assert proc.returncode == 0
    data = tomllib.loads(proc.stdout)
    assert [h["name"] for h in data["handler"]][-1] == "mtime"
    profile = _write_profile(tmp_path / "all.toml", proc.stdout)
    root = tmp_path / "root"
    root.mkdir()
    check = rootnorm("--check", "--profile", str(profile), "--mtime-policy", "zero", str(root))
    assert check.returncode in (0, 1), check.stderr


# --- false "unsupported" ---------------------------------------------------------------------


def test_files_that_are_not_archives_are_not_unsupported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    egg = root / "usr/lib/python3/dist-packages/thing-1.0.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO/PKG-INFO").write_text("Name: thing\n")
    libdir = root / "usr/lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    (libdir / "libm.a").write_text(
        "/* GNU ld script\n*/\nOUTPUT_FORMAT(elf64-x86-64)\n"
        "GROUP ( /usr/lib/x86_64-linux-gnu/libm-2.36.a /usr/lib/x86_64-linux-gnu/libmvec.a )\n"
    )
    alternatives = root / "var/lib/dpkg/alternatives"
    alternatives.mkdir(parents=True)
    (alternatives / "builtins.7.gz").write_text("manual\n/usr/share/man/man7/builtins.7.gz\n")
    report = tmp_path / "report.json"
    args = ("--check", "--profile", "generic", "--source-date-epoch", "1600000000")
    proc = rootnorm(*args, "--fail-on", "all", "--report", str(report), str(root))
    assert proc.returncode == 1, proc.stdout  # mtimes would change: nothing else
    assert "unsupported" not in proc.stdout and "fail-on" not in proc.stdout
    outcomes = {f["path"]: f["outcome"] for f in json.loads(report.read_text())["files"]}
    assert outcomes == {
        "./usr/lib/x86_64-linux-gnu/libm.a": "skipped",
        "./var/lib/dpkg/alternatives/builtins.7.gz": "skipped",
    }
    # a cut gzip and a cut ar archive are still archives, reported and gated on
    (root / "usr/lib/cut.gz").write_bytes(b"\x1f\x8b\x08\x00trunc")
    (libdir / "libcut.a").write_bytes(b"!<arch>")
    gate = rootnorm(*args, "--fail-on", "gzip-unsupported,ar-unsupported", str(root))
    assert "fail-on gzip-unsupported: ./usr/lib/cut.gz" in gate.stdout
    assert "fail-on ar-unsupported: ./usr/lib/x86_64-linux-gnu/libcut.a" in gate.stdout


# --- --check against a real ostree checkout --------------------------------------------------


def _ostree(*args: str) -> None:
    subprocess.run(["ostree", *args], check=True, capture_output=True)


def test_check_passes_on_a_real_ostree_checkout(tree: Path, tmp_path: Path) -> None:
    if shutil.which("ostree") is None:
        unavailable("the ostree command (Debian package ostree)")
    site = tree / "usr/lib/pyapp"
    (site / "common/alias.py").symlink_to("mod.py")
    (tree / "usr/bin").mkdir()
    (tree / "usr/bin/tool").symlink_to("../lib/pyapp/common/mod.py")
    (tree / "usr/share").mkdir()
    (tree / "usr/share/empty.conf").write_bytes(b"")
    assert rootnorm("--profile", "ostree", str(tree)).returncode == 0
    # a real run sets symlinks and empty files too (container layers keep their mtimes)
    for link in (site / "common/alias.py", tree / "usr/bin/tool", tree / "usr/share/empty.conf"):
        assert link.lstat().st_mtime_ns == 0
    repo, out = tmp_path / "repo", tmp_path / "checkout"
    _ostree("init", f"--repo={repo}", "--mode=bare")
    _ostree("commit", f"--repo={repo}", "--branch=t", f"--tree=dir={tree}")
    _ostree("checkout", f"--repo={repo}", "t", str(out))
    assert (out / "usr/bin/tool").lstat().st_mtime_ns != 0  # the checkout time
    report = tmp_path / "check.json"
    check = rootnorm("--check", "--profile", "ostree", "--report", str(report), str(out))
    assert check.returncode == 0, check.stdout
    counts = json.loads(report.read_text())["counts"]
    assert "changed" not in counts.get("mtime", {})
    assert counts["mtime"]["checkout-time"] >= 4  # 2 symlinks, 2+ empty files
    # content that is not right still fails the check
    os.utime(out / "usr/lib/pyapp/common/mod.py", (1_600_000_000, 1_600_000_000))
    wrong = rootnorm("--check", "--profile", "ostree", str(out))
    assert wrong.returncode == 1
    assert "./usr/lib/pyapp/common/mod.py" in wrong.stdout


def test_checkout_time_only_with_the_zero_policy(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/link").symlink_to("target")
    os.utime(root / "usr/bin/link", (1_500_000_000, 1_500_000_000), follow_symlinks=False)
    for path in (root / "usr/bin", root / "usr", root):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    args = ("--check", "--profile", "ostree", str(root))
    assert rootnorm(*args).returncode == 1  # the root and /usr, 0 in a checkout
    for path in (root / "usr/bin", root / "usr", root):
        os.utime(path, (0, 0))
    assert rootnorm(*args).returncode == 0  # the symlink alone: a checkout sets it
    # OpenEmbedded's images without OSTree: --mtime-policy set, symlinks keep their mtimes
    for path in (root / "usr/bin", root / "usr", root):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    oe = ("--mtime-policy", "set", "--source-date-epoch", "1000000000")
    proc = rootnorm(*oe, *args)
    assert proc.returncode == 1  # the symlink alone
    assert "mtime: 1 would be changed\n" in proc.stdout
    profile = _write_profile(
        tmp_path / "p.toml",
        '[mtime]\npolicy = "clamp"\nostree_checkout = true\n\n[[handler]]\nname = "mtime"\n',
    )
    bad = rootnorm("--profile", str(profile), "--source-date-epoch", "1", str(root))
    assert bad.returncode == 2 and "mtime.ostree_checkout" in bad.stderr


# --- --check and a real run count alike ------------------------------------------------------


def _counts(report: Path) -> tuple[object, object, object]:
    data = json.loads(report.read_text())
    return data["counts"], data["entries_seen"], data.get("files_inspected")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_check_and_run_count_the_same(tmp_path: Path, jobs: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    build(root, ("3.11", "3.8"))
    for n in range(20):  # enough archives for workers under --jobs 2
        (root / f"usr/lib/pyapp/d{n}.txt").write_text(f"{n}\n")
        subprocess.run(["gzip", str(root / f"usr/lib/pyapp/d{n}.txt")], check=True)
    args = ("--profile", "rpm", "--source-date-epoch", "1600000000", "--jobs", jobs)
    profile = _write_profile(
        tmp_path / "remove.toml",
        '[mtime]\npolicy = "clamp"\n\n[[handler]]\nname = "pyc"\nstale = "remove"\n\n'
        '[[handler]]\nname = "gzip"\n\n[[handler]]\nname = "mtime"\n',
    )
    for extra in (("--profile", "rpm"), ("--profile", str(profile))):
        copy = tmp_path / f"copy{len(extra[1])}"
        shutil.copytree(root, copy, symlinks=True)
        check, real = tmp_path / "check.json", tmp_path / "real.json"
        rootnorm(*args, *extra, "--check", "--report", str(check), str(copy))
        done = rootnorm(*args, *extra, "--report", str(real), str(copy))
        assert done.returncode == 0, done.stdout + done.stderr
        assert _counts(check) == _counts(real)


def test_progress_bar_total_is_in_the_summary(tree: Path) -> None:
    proc = rootnorm("--check", "--profile", "ostree", "--progress", str(tree))
    totals = {int(t) for t in re.findall(r"\d+/(\d+) \[", proc.stderr)}
    assert len(totals) == 1, proc.stderr
    assert f"{totals.pop()} files inspected" in proc.stdout
    verbose = rootnorm("--check", "--profile", "ostree", "--verbose", str(tree))
    assert verbose.stderr == ""  # --verbose lists changes; no bar on a pipe
    assert "mtime: ./usr/lib/pyapp/common/mod.py" in verbose.stdout


# --- read-only trees and other users' trees --------------------------------------------------


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree another user can reach (pytest's tmp_path is private to root)."""
    with tempfile.TemporaryDirectory(prefix="rootnorm-shared-") as top:
        os.chmod(top, 0o755)
        root = Path(top) / "root"
        (root / "usr/share/doc").mkdir(parents=True)
        for n in range(60):
            (root / f"usr/share/doc/f{n:02d}.txt").write_text(f"{n}\n")
        for dirpath, _, _ in os.walk(root):
            os.chmod(dirpath, 0o755)
        yield root


def test_read_only_tree_is_said_up_front_and_summarised(shared_tree: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("root, to bind-mount a tree read-only")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "--bind", "-o", "ro", str(shared_tree), str(mnt)], check=True)
    except (OSError, subprocess.CalledProcessError):
        unavailable("mount --bind -o ro (a privileged container)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], check=True)
        proc = rootnorm("--profile", "ostree", str(mnt))
        check = rootnorm("--check", "--profile", "ostree", str(mnt))
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    assert proc.returncode == 3
    assert proc.stderr.startswith("rootnorm: warning: ROOT")
    assert "read-only file system: every change it needs will fail" in proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("  failed:")]
    assert len(failed) == 10, proc.stdout  # the first few, then a count
    assert "... and 54 more" in proc.stdout  # 64 entries: 60 files, 4 directories
    assert check.returncode == 1  # --check works there


SYSTEM_PYTHON = "/usr/bin/python3"  # another user cannot reach root's pyenv interpreters


def test_other_users_tree_is_summarised(shared_tree: Path) -> None:
    if os.geteuid() != 0:
        unavailable("root, to run rootnorm as another user")
    probe = [SYSTEM_PYTHON, "-c", "import xattr, tqdm, elftools"]
    if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        unavailable("python3-xattr, python3-tqdm and python3-pyelftools for /usr/bin/python3")
    proc = rootnorm("--profile", "ostree", str(shared_tree), uid=65534, python=SYSTEM_PYTHON)
    assert proc.returncode == 3
    assert "running as uid 65534 on a tree owned by uid 0" in proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("  failed:")]
    assert len(failed) == 10, proc.stdout  # the first few, then a count
    assert "... and 54 more" in proc.stdout  # 64 entries: 60 files, 4 directories
    quiet = rootnorm("-q", "--profile", "ostree", str(shared_tree), uid=65534, python=SYSTEM_PYTHON)
    assert len(quiet.stderr.splitlines()) <= 12


# --- README ----------------------------------------------------------------------------------


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_readme_option_table_has_every_option() -> None:
    helped = rootnorm("--help").stdout
    options = set(re.findall(r"^  (--[a-z-]+)", helped, re.MULTILINE)) - {"--help", "--version"}
    table = _section(_readme(), "## Command line")
    rows = set(re.findall(r"^\| `(--[a-z-]+)", table, re.MULTILINE))
    rows |= set(re.findall(r"^\| `--[a-z-]+` / `(--[a-z-]+)`", table, re.MULTILINE))
    assert options - rows == set()


def test_readme_report_example_has_every_key(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/x.py").write_text("X = 1\n")
    (root / "usr/lib/link").symlink_to("x.py")
    report = tmp_path / "r.json"
    rootnorm("--profile", "ostree", "--report", str(report), str(root))
    real = json.loads(report.read_text())
    block = re.search(r"```json\n(.*?)```", _section(_readme(), "## Report"), re.DOTALL)
    assert block is not None
    example = json.loads(block.group(1))
    assert set(example) == set(real)
    assert example["version"] == real["version"]
    real_file_keys = set().union(*(set(f) for f in real["files"]))
    assert set().union(*(set(f) for f in example["files"])) == real_file_keys
    assert set(example["mtimes"][0]) == set(real["mtimes"][0])
    assert set(example["counts"]["mtime"]) == set(real["counts"]["mtime"])


@pytest.mark.slow
def test_readme_quick_start_works_with_an_externally_managed_python(tmp_path: Path) -> None:
    """The quick start's commands, run as written (sudo dropped: the tests run as root), with
    the system Python, which PEP 668 marks as externally managed on Debian 12."""
    system = Path("/usr/bin/python3")
    if not system.exists() or not list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED")):
        unavailable("Debian's /usr/bin/python3, marked externally managed (PEP 668)")
    if subprocess.run([str(system), "-m", "venv", "-h"], capture_output=True).returncode != 0:
        unavailable("python3-venv")
    quick = _section(_readme(), "## Quick start (fresh machine)")
    first = re.search(r"```sh\n(.*?)```", quick, re.DOTALL)
    assert first is not None
    tree = tmp_path / "tree"
    (tree / "usr/lib").mkdir(parents=True)
    (tree / "usr/lib/x.py").write_text("X = 1\n")
    lines = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    script = "\n".join(line.removeprefix("sudo ") for line in lines if line)
    script = script.replace(" /usr", f" {tree}")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    checkout = tmp_path / "checkout"  # pip builds in the source tree: not in this one
    shutil.copytree(REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "setup.cfg", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy(REPO / name, checkout / name)
    proc = subprocess.run(
        ["bash", "-ec", script], cwd=checkout, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # --check: something would change
    assert "4 entries seen" in proc.stdout
    tests = _section(_readme(), "## Quick start (fresh machine)")
    assert "2.7 and 3.6\N{EN DASH}3.13" in tests and "as root" in tests
