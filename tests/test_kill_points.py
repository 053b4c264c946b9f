"""Killed at any system call that changes the tree, then run once more: the tree is exactly what
one uninterrupted run makes.

strace kills rootnorm with SIGKILL at the N-th call of one system call (`inject=...:signal=`),
for every call that writes (or a spread of them), so each window between two changes that
belong together is hit deterministically: a pyc header patched before its source's mtime, a
temp file before its rename, a directory's mtime before it is restored, a hard-link group half
moved, the journal's own creation and removal.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import xattr
from pytrees import build
from testlib import NS, SRC, clean_env, unavailable

EPOCH = 1_600_000_000
OLD = EPOCH - 86_400  # older than SOURCE_DATE_EPOCH: the rpm profile's clamp keeps it
NEW = EPOCH + 86_400
# The calls that change the tree (or the journal), as strace names them on x86_64 and arm64.
WRITING = ("pwrite64", "write", "utimensat", "renameat", "renameat2", "linkat", "unlinkat")
PROFILES = {"ostree": {}, "rpm": {"SOURCE_DATE_EPOCH": str(EPOCH)}}
OPT_LEVELS = ("-o", "0", "-o", "1", "-o", "2")

Shot = dict[bytes, tuple[object, ...]]


def _make_tree(root: Path, outside: Path) -> None:
    build(root, ("3.8", RUNNING_VERSION))
    package = root / "usr/lib/py/pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("'''doc'''\nX = 1\n")
    (package / "util.py").write_text("def f():\n    return 1\n")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *OPT_LEVELS, "--hardlink-dupes", str(package)],
        env=clean_env(),
        check=True,
    )
    share = root / "usr/share/doc/a"
    share.mkdir(parents=True)
    with gzip.GzipFile(share / "changelog.gz", "wb", mtime=NEW) as out:
        out.write(b"changes\n" * 50)
    (root / "usr/share/doc/b").mkdir()
    os.link(share / "changelog.gz", root / "usr/share/doc/b/changelog.gz")
    with gzip.GzipFile(share / "news.gz", "wb", mtime=NEW) as out:
        out.write(b"news\n")
    outside.write_bytes(b"shared with a file outside the root\n")
    os.link(outside, share / "linked-outside")
    for path in (package / "__pycache__").iterdir():
        xattr.setxattr(str(path), "user.component", b"pkg")
        break
    os.symlink("a/changelog.gz", root / "usr/share/doc/link")
    # sources keep their mtimes (now: later than SOURCE_DATE_EPOCH), so their pycs stay valid
    for path in sorted(root.rglob("*"), reverse=True):
        if path.suffix != ".py":
            stamp = (OLD if path.name == "b" else NEW) * NS
            os.utime(path, ns=(stamp, stamp), follow_symlinks=False)
    os.utime(root, ns=(OLD * NS, OLD * NS))


RUNNING_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("strace") is None:
        unavailable("strace (Debian package strace)")
    base = tmp_path_factory.mktemp("pristine")
    _make_tree(base / "root", base / "outside")
    return base


def _copy(pristine: Path, dest: Path) -> Path:
    """A copy of the pristine tree with hard links and the link outside kept."""
    subprocess.run(["cp", "-a", str(pristine), str(dest)], check=True)
    return dest / "root"


def _command(profile: str, root: Path) -> tuple[list[str], dict[str, str]]:
    env = clean_env(PYTHONPATH=str(SRC), **PROFILES[profile])
    return [sys.executable, "-B", "-m", "rootnorm", "--quiet", "--profile", profile, str(root)], env


def _snapshot(root: Path) -> Shot:
    """Everything promise 8 says must be equal; hard-link groups by their first name."""
    shot: Shot = {}
    first_name: dict[int, bytes] = {}
    base = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, base)
            st = os.lstat(path)
            body: object = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    body = f.read()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(path)
            group = first_name.setdefault(st.st_ino, rel) if not stat.S_ISDIR(st.st_mode) else rel
            attrs = tuple(
                sorted(
                    (k, xattr.getxattr(path, k, symlink=True))
                    for k in xattr.listxattr(path, symlink=True)
                )
            )
            shot[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body, group, attrs)
    shot[b"."] = (os.lstat(base).st_mtime_ns,)
    return shot


def _calls(profile: str, root: Path, syscall: str) -> int:
    command, env = _command(profile, root)
    out = subprocess.run(
        ["strace", "-f", "-qq", "-c", "-U", "calls", "-e", f"trace={syscall}", *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    numbers = [line.split()[0] for line in out.stderr.splitlines() if line.strip()[:1].isdigit()]
    return int(numbers[0]) if numbers else 0


def _kill_at(syscall: str, when: int) -> str:
    return f"inject={syscall}:signal=SIGKILL:when={when}"


def _points(total: int, most: int) -> list[int]:
    if total <= most:
        return list(range(1, total + 1))
    return sorted({1 + (total - 1) * k // (most - 1) for k in range(most)})


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_kill_at_any_writing_call_then_one_run_converges(
    pristine: Path, tmp_path: Path, profile: str
) -> None:
    reference = _copy(pristine, tmp_path / "reference")
    command, env = _command(profile, reference)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    expected = _snapshot(reference)
    assert not any(b".rootnorm" in rel for rel in expected)
    most = int(os.environ.get("ROOTNORM_KILL_POINTS", "8"))
    tried = 0
    failures = []
    for syscall in WRITING:
        total = _calls(profile, _copy(pristine, tmp_path / f"count-{syscall}"), syscall)
        for when in _points(total, most):
            trial = _copy(pristine, tmp_path / f"{syscall}-{when}")
            command, env = _command(profile, trial)
            killed = subprocess.run(
                ["strace", "-f", "-qq", "-o", "/dev/null", "-e", _kill_at(syscall, when), *command],
                env=env,
                capture_output=True,
                check=False,
            )
            assert killed.returncode != 0 or when > total
            again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            got = _snapshot(trial)
            tried += 1
            if again.returncode != 0 or got != expected:
                differ = sorted(
                    rel for rel in set(got) | set(expected) if got.get(rel) != expected.get(rel)
                )
                failures.append((syscall, when, again.returncode, again.stderr[-300:], differ[:5]))
            shutil.rmtree(trial.parent)
    assert tried >= 20
    assert not failures, failures
