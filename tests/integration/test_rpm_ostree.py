"""rpm-ostree: the treefile snippet's postprocess script and the finalize.d hook, run the
way rpm-ostree runs them, then a real ostree commit + checkout and imports with the
target's own interpreter.

What is real here: debootstrap'd Debian tree, the target's python3, bubblewrap with
rpm-ostree's arguments, rofiles-fuse --copyup for the unified-core case, ostree
commit/checkout, `python3 -B -v` in a chroot of the checkout. What is not: rpm-ostree
itself (not packaged for Debian) - the harness reproduces its script runner from
rust/src/composepost.rs and rust/src/bwrap.rs.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import yaml
from integ_support import (
    MATCHES_RE,
    PROBE_MODULES,
    REPO_ROOT,
    TARGET_SITE,
    add_probe_package,
    chroot_python,
    copy_tree,
    host_rootnorm_shim,
    import_probe,
    install_rootnorm,
    matched_sources,
    ostree_commit_checkout,
    run,
    run_inline_postprocess,
    stale_names,
)

SNIPPET = REPO_ROOT / "treefile-snippets" / "rootnorm.yaml"
FINALIZE_HOOK = REPO_ROOT / "treefile-snippets" / "finalize.d" / "50-rootnorm"

# Modules imported after deployment: stdlib and Debian-packaged ones (pycs made by
# Debian's py3compile at install time) and the probe package (compileall, opt 0 and 1).
IMPORTS = (
    "email.mime.text",  # email/mime/__init__.py is EMPTY in CPython 3.11
    "json",
    "xattr",
    "tqdm",
    "elftools.elf.elffile",  # elftools/common/__init__.py is EMPTY
    *PROBE_MODULES,  # rnprobe/__init__.py and rnprobe/empty_pkg/__init__.py are EMPTY
)
EMPTY_SOURCES = (
    "/usr/lib/python3.11/email/mime/__init__.py",
    "/usr/lib/python3/dist-packages/elftools/common/__init__.py",
    f"/{TARGET_SITE}/rnprobe/__init__.py",
    f"/{TARGET_SITE}/rnprobe/empty_pkg/__init__.py",
)
PROBE_IMPORT = ("rnprobe.mod",)


def snippet() -> dict[str, object]:
    data = yaml.safe_load(SNIPPET.read_text())
    assert isinstance(data, dict)
    return data


def test_snippet_is_a_valid_treefile_fragment() -> None:
    data = snippet()
    assert set(data) == {"packages", "postprocess"}, "only keys rpm-ostree merges by concatenation"
    assert data["packages"] == ["rootnorm"]
    scripts = data["postprocess"]
    assert isinstance(scripts, list) and len(scripts) == 1
    script = scripts[0]
    assert isinstance(script, str) and script.startswith("#!"), "inline scripts need a shebang"
    assert "python3 -B -m rootnorm --profile ostree --cross-mounts --jobs 0 /" in script
    assert "PYTHONDONTWRITEBYTECODE=1" in script
    mode = FINALIZE_HOOK.stat().st_mode
    assert stat.S_ISREG(mode) and mode & stat.S_IXUSR, "rpm-ostree skips non-executable hooks"


def digest_tree(top: Path) -> dict[str, str]:
    """sha256 of every regular file under top (links not followed)."""
    out: dict[str, str] = {}
    for dirpath, _dirs, files in os.walk(top, followlinks=False):
        for name in files:
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                with open(path, "rb") as fh:
                    out[os.path.relpath(path, top)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [
        "inline",
        "inline-unified-core",
        "finalize.d",
    ],
)
def test_rpm_ostree_deployment_has_no_stale_bytecode(
    mode: str, debian_rootfs: Path, tmp_path: Path, mounts: list[Path]
) -> None:
    target = tmp_path / "rootfs"
    copy_tree(debian_rootfs, target)
    add_probe_package(target)
    if mode != "finalize.d":
        install_rootnorm(target)

    # The tree as built is self-consistent: every cache matches its source.
    stale, matches_built, err = import_probe(target, IMPORTS)
    assert stale == 0, stale_names(err)
    assert matches_built >= 40, err[-2000:]

    # Baseline: commit it untouched; after checkout (mtime 0) the caches are stale.
    repo = tmp_path / "repo"
    before = tmp_path / "checkout-before"
    ostree_commit_checkout(target, repo, "before", before)
    stale_before, matches_before, err = import_probe(before, IMPORTS)
    print(f"[{mode}] untreated: {stale_before} stale, {matches_before} matches")
    assert stale_before >= 40, "the baseline must show the problem, or the test proves nothing"
    assert matches_before == 0, err[-2000:]

    # An rpm-ostree package cache: with --unified-core (and so in finalize.d) every file of
    # /usr is a hard link into it, checked out by ostree, so every non-empty regular file
    # already has mtime 0 (ostree objects carry no mtime). Its content must survive
    # rootnorm untouched.
    pkgcache = tmp_path / "pkgcache"
    pkgcache_digests: dict[str, str] = {}
    if mode != "inline":
        run(["cp", "-al", str(target / "usr"), str(pkgcache)])
        run(
            [
                "find",
                str(pkgcache),
                "-type",
                "f",
                "-size",
                "+0",
                "-exec",
                "touch",
                "-d",
                "@0",
                "{}",
                "+",
            ]
        )
        pkgcache_digests = digest_tree(pkgcache)

    if mode == "finalize.d":
        # rpm-ostree runs finalize.d executables on the host, cwd = target rootfs.
        shim = host_rootnorm_shim(tmp_path / "hostbin")
        proc = run(
            [str(FINALIZE_HOOK)],
            env={
                "PATH": f"{shim.parent}:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG": "C.UTF-8",
                "RPMOSTREE_WORKDIR": str(SNIPPET.parent),
            },
            cwd=target,
            check=False,
        )
    else:
        script = snippet()["postprocess"][0]  # type: ignore[index]
        usr_mount = None
        if mode == "inline-unified-core":
            usr_mount = tmp_path / "rofiles-usr"
            usr_mount.mkdir()
            run(["rofiles-fuse", "--copyup", "usr", str(usr_mount)], cwd=target)
            mounts.append(usr_mount)
        proc = run_inline_postprocess(
            target,
            script,
            0,
            unified_core=mode == "inline-unified-core",
            usr_mount=usr_mount,
        )
        if usr_mount is not None:
            run(["umount", str(usr_mount)])
            mounts.remove(usr_mount)
        assert not (target / "usr/bin/rpmostree-postprocess-inline-0").exists()
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-4000:]

    # The tool wrote no bytecode of its own into the target.
    leaked = list((target / TARGET_SITE / "rootnorm").rglob("*.pyc"))
    assert leaked == []

    if pkgcache_digests:
        changed = [
            rel for rel, digest in digest_tree(pkgcache).items() if pkgcache_digests[rel] != digest
        ]
        assert changed == [], f"package cache content modified in place: {changed[:10]}"

    after = tmp_path / "checkout-after"
    ostree_commit_checkout(target, repo, "after", after)
    # ostree gives empty files the checkout time: those are the hard cases.
    for source in EMPTY_SOURCES:
        assert (after / source.lstrip("/")).stat().st_size == 0
    stale_after, matches_after, err = import_probe(after, IMPORTS)
    print(f"[{mode}] after rootnorm: {stale_after} stale, {matches_after} matches")
    assert stale_after == 0, stale_names(err)
    assert matches_after == matches_built
    assert set(EMPTY_SOURCES) <= matched_sources(err)

    # The optimised caches (opt-1, hard-linked to opt-0 by compileall) are valid too.
    proc = chroot_python(after, ["-O", "-v", "-c", "import " + ", ".join(PROBE_IMPORT)])
    assert stale_names(proc.stderr) == []
    opt1 = [pyc for pyc, _src in MATCHES_RE.findall(proc.stderr) if pyc.endswith(".opt-1.pyc")]
    assert len(opt1) == len(PROBE_MODULES), proc.stderr[-2000:]
