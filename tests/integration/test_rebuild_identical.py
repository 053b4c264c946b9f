"""The proof of issue 17: a Debian tree built twice, at different times, in different paths and
with a different umask, comes out identical after `rootnorm --profile ostree`.

Both builds start from the cached debootstrap rootfs and install the same packages from the
same .deb files under libfaketime (2026-01-10 and 2026-03-20, umask 022 and 002): pycs, a
man-db index, fontconfig caches, Debian's JKS cacerts, locales and a system user. Compared as
ostree sees them (`ostree ls -R -C` of commits made with --owner-uid/gid 0, --no-xattrs): no
path differs outside /var, and every file that differs under /var is named by a finding of the
audit profile. Compared as a tar or OCI layer sees them (content, mode, owner, mtime outside
/var, /run and /tmp): identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from integ_support import build_with_packages, proof_debs, run
from testlib import rootnorm

EPOCH = 1_767_225_600  # 2026-01-01: before both builds
BUILDS = (("one", "2026-01-10 10:00:00", "022"), ("second/two", "2026-03-20 18:30:00", "002"))
NOT_IN_LAYERS = ("var", "run", "tmp")


def _ostree_listing(repo: Path, tree: Path, branch: str) -> dict[str, str]:
    run(["ostree", "commit", f"--repo={repo}", f"--branch={branch}", f"--tree=dir={tree}",
         "--owner-uid=0", "--owner-gid=0", "--no-xattrs"])  # fmt: skip
    listing = run(["ostree", "ls", f"--repo={repo}", "-R", "-C", branch]).stdout
    return {line.rsplit(" ", 1)[-1]: line for line in listing.splitlines()}


def _layer_view(root: Path) -> dict[str, tuple[int, int, int, int, str]]:
    """What a tar of the tree records: mode, owner, mtime, content digest or link target."""
    view = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [name for name in dirnames if name not in NOT_IN_LAYERS]
        for name in (".", *dirnames, *filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            body = ""
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    body = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(path)
            key = os.path.normpath(os.path.relpath(path, root))
            view[key] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body)
    return view


def _differing(first: dict[str, object], second: dict[str, object]) -> list[str]:
    return sorted(key for key in first.keys() | second.keys() if first.get(key) != second.get(key))


def _build(base: Path, debs: Path, tree: Path, when: str, umask: str) -> Path:
    tree.parent.mkdir(parents=True, exist_ok=True)
    build_with_packages(base, tree, debs, when, umask)
    return tree


def _normalise(tree: Path, n: int) -> tuple[dict[str, str], set[str]]:
    """rootnorm --profile ostree, then the audit's finding paths and the ostree listing."""
    proc = rootnorm("--quiet", "--profile", "ostree", f"--source-date-epoch={EPOCH}", str(tree))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = tree.parent / f"{tree.name}-audit.json"
    audit = rootnorm("--check", "--profile", "audit", f"--source-date-epoch={EPOCH}",
                     "--report", str(report), str(tree))  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # report paths are "./var/...", ostree's "/var/..."
    named = {f["path"][1:] for f in json.loads(report.read_text())["files"] if f.get("id")}
    repo = tree.parent / f"repo{n}"  # one repo each: object checksums do not depend on it
    run(["ostree", "init", f"--repo={repo}", "--mode=bare"])
    return _ostree_listing(repo, tree, f"build{n}"), named


@pytest.mark.slow
def test_two_builds_identical(debian_rootfs: Path, tmp_path: Path) -> None:
    debs = proof_debs(debian_rootfs)
    # Side by side, one per core: each build's clock is its own libfaketime clock.
    with ThreadPoolExecutor(2) as pool:
        builds = [
            pool.submit(_build, debian_rootfs, debs, tmp_path / rel, when, umask)
            for rel, when, umask in BUILDS
        ]
        first, second = trees = [build.result() for build in builds]
    assert (first / "etc/shadow").read_bytes() != (second / "etc/shadow").read_bytes()
    cacerts = "etc/ssl/certs/java/cacerts"
    assert (first / cacerts).read_bytes() != (second / cacerts).read_bytes()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_normalise, trees, range(2)))
    listings = [listing for listing, _ in results]
    named = set().union(*(found for _, found in results))
    differing = _differing(*listings)
    # "/" holds /var, so its checksum differs with it
    assert [path for path in differing if path != "/" and not path.startswith("/var")] == []
    files = [p for p in differing if p.startswith("/var/") and not listings[0][p].startswith("d")]
    assert files and [path for path in files if path not in named] == []
    dirs = [p for p in differing if p.startswith("/var") and listings[0][p].startswith("d")]
    assert all(any(f.startswith(d + "/") for f in files) for d in dirs), dirs

    assert _differing(_layer_view(first), _layer_view(second)) == []
    listing = run(["keytool", "-list", "-keystore", str(first / cacerts), "-storepass", "changeit"])
    assert "Jan 1, 1970, trustedCertEntry" in listing.stdout
    chage = run(["chage", "-R", str(first), "-l", "messagebus"], env={"LANG": "C"})
    assert "Jan 01, 2026" in chage.stdout
    # pwck reads every shadow line; a stock minbase has system users without their home
    pwck = run(["pwck", "-r", "-R", str(first)], env={"LANG": "C"}, check=False)
    complaints = (pwck.stdout + pwck.stderr).splitlines()
    assert all("does not exist" in line or "no changes" in line for line in complaints), pwck
