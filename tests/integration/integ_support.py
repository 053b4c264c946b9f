"""Helpers for the end-to-end integration tests (rpm-ostree, bootc, OpenEmbedded).

Everything here drives real tools: debootstrap, bubblewrap, ostree, chroot and real Python
interpreters. Nothing follows a symbolic link out of a test tree: trees are copied with
``cp -a`` (links stay links) and walked with ``os.walk(followlinks=False)`` / ``lstat``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_PACKAGE = REPO_ROOT / "src" / "rootnorm"

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# python3-xattr depends on the virtual python3-cffi-backend-api-min, which debootstrap
# cannot resolve: name the real package.
DEBIAN_PACKAGES = "python3,python3-xattr,python3-cffi-backend,python3-tqdm,python3-pyelftools"
# Bump when the recipe of the cached tree changes, so an old cache is never reused.
CACHE_VERSION = "v2"

# The target's interpreter, as seen from inside the target.
TARGET_PYTHON = "/usr/bin/python3"
TARGET_SITE = "usr/lib/python3/dist-packages"

# Python -v signals, counted by the tests (see docs/integrations.md).
STALE_RE = re.compile(r"^# bytecode is stale for '([^']+)'", re.MULTILINE)
MATCHES_RE = re.compile(r"^# (\S+\.pyc) matches (\S+\.py)$", re.MULTILINE)

# The environment rpm-ostree gives postprocess scripts: rust/src/bwrap.rs sets exactly
# LANG (from the caller, default C) and PATH, plus SOURCE_DATE_EPOCH when the caller has it.
RPM_OSTREE_PATH = "/usr/sbin:/usr/bin"
# rust/src/bwrap.rs: ADDED_CAPABILITIES after --cap-drop ALL when running as root.
RPM_OSTREE_CAPS = (
    "cap_chown",
    "cap_dac_override",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_sys_chroot",
    "cap_setfcap",
)
RPM_OSTREE_RO_BINDS = ("/sys/block", "/sys/bus", "/sys/class", "/sys/dev", "/sys/devices")
RPM_OSTREE_USR_LINKS = ("lib", "lib32", "lib64", "bin", "sbin")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rootnorm-tests"


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; on failure raise with both streams shown.

    The program is looked up on the HOST's PATH even when `env` gives the child a
    different (or no) PATH.
    """
    program = argv[0] if "/" in argv[0] else (shutil.which(argv[0]) or argv[0])
    proc = subprocess.run(
        [program, *argv[1:]],
        env=dict(env) if env is not None else None,
        cwd=str(cwd) if cwd is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )
    return proc


def debootstrap_rootfs() -> Path:
    """Return a cached Debian rootfs with python3 and rootnorm's runtime deps, built once.

    The tree is built in a scratch directory and renamed into place, so an interrupted
    build never leaves a half tree that later runs would trust.
    """
    cache = cache_dir()
    final = cache / f"{DEBIAN_SUITE}-minbase-python3-{CACHE_VERSION}"
    if (final / "usr" / "bin" / "python3").exists():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    # One builder at a time: a second test session waits, then finds the finished tree.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "usr" / "bin" / "python3").exists():
            return final
        return _build_rootfs(cache, final)


def _build_rootfs(cache: Path, final: Path) -> Path:
    for leftover in cache.glob(".build-*"):  # from an interrupted build (we hold the lock)
        shutil.rmtree(leftover)
    scratch = cache / f".build-{os.getpid()}"
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={DEBIAN_PACKAGES}",
            DEBIAN_SUITE,
            str(scratch),
            DEBIAN_MIRROR,
        ],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
        timeout=1200,
    )
    # ostree refuses device nodes; a container or OSTree image never ships /dev content.
    for child in (scratch / "dev").iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    os.rename(scratch, final)
    return final


def source_tree(dest: Path) -> Path:
    """Copy this checkout's tracked and new files to `dest` (no build leftovers, no caches)."""
    files = run(["git", "-C", str(REPO_ROOT), "ls-files", "-z", "-co", "--exclude-standard"])
    for rel in filter(None, files.stdout.split("\0")):
        src = REPO_ROOT / rel
        if src.is_file() and "egg-info" not in rel:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def build_sdist(python: str, tree: Path, out: Path) -> Path:
    """Build the sdist of `tree` into `out` with `python`'s setuptools, no build isolation
    (setuptools.build_meta, as every target's tooling calls it); return its path."""
    api = "import setuptools.build_meta as api, sys; print(api.build_sdist(sys.argv[1]))"
    name = run([python, "-c", api, str(out)], cwd=tree).stdout.strip().splitlines()[-1]
    return out / name


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a tree exactly (links stay links, modes, owners, mtimes, xattrs, hard links)."""
    run(["cp", "-a", "--reflink=auto", str(src), str(dst)])


def install_rootnorm(target: Path, with_script: bool = True) -> Path:
    """Install this checkout's rootnorm into the target the way a package would.

    Copies the pure-Python package into the target's dist-packages without any bytecode,
    and (with_script) writes the console-script entry point a wheel install creates.
    Returns the installed package directory.
    """
    dest = target / TARGET_SITE / "rootnorm"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        SRC_PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    )
    if with_script:
        script = target / "usr" / "bin" / "rootnorm"
        script.write_text(
            textwrap.dedent(
                f"""\
                #!{TARGET_PYTHON}
                import sys
                from rootnorm.cli import main
                if __name__ == "__main__":
                    sys.exit(main())
                """
            )
        )
        script.chmod(0o755)
    return dest


PROBE_FILES: dict[str, str] = {
    "rnprobe/__init__.py": "",
    "rnprobe/empty_pkg/__init__.py": "",
    "rnprobe/empty_pkg/leaf.py": "VALUE = 'leaf'\n",
    "rnprobe/mod.py": "import rnprobe.empty_pkg.leaf\nANSWER = 42\n",
}
PROBE_MODULES = ("rnprobe", "rnprobe.empty_pkg", "rnprobe.empty_pkg.leaf", "rnprobe.mod")


def add_probe_package(target: Path) -> None:
    """Add a package whose sources include empty __init__.py files, byte-compiled by the
    TARGET's own interpreter (timestamp pycs, opt levels 0 and 1, dupes hard-linked)."""
    site = target / TARGET_SITE
    for rel, text in PROBE_FILES.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    chroot_python(
        target,
        [
            "-m",
            "compileall",
            "-q",
            "-o",
            "0",
            "-o",
            "1",
            "--hardlink-dupes",
            "--invalidation-mode",
            "timestamp",
            f"/{TARGET_SITE}/rnprobe",
        ],
        bytecode_ok=True,
    )


def chroot_python(
    root: Path, args: Sequence[str], *, bytecode_ok: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the target's interpreter inside a chroot of `root` with a clean environment."""
    env_args = ["env", "-i", "LANG=C.UTF-8", "PATH=/usr/sbin:/usr/bin"]
    py_args = [TARGET_PYTHON] if bytecode_ok else [TARGET_PYTHON, "-B"]
    return run(["chroot", str(root), *env_args, *py_args, *args], env={}, check=check)


def import_probe(root: Path, modules: Iterable[str]) -> tuple[int, int, str]:
    """Import `modules` with the target's interpreter in a chroot of `root`.

    Returns (stale, matches, stderr): the counts of ``bytecode is stale`` lines and of
    ``… matches …`` lines printed by ``python3 -B -v``.
    """
    code = "import " + ", ".join(modules)
    proc = chroot_python(root, ["-v", "-c", code])
    err = proc.stderr
    return len(STALE_RE.findall(err)), len(MATCHES_RE.findall(err)), err


def stale_names(stderr: str) -> list[str]:
    return STALE_RE.findall(stderr)


def matched_sources(stderr: str) -> set[str]:
    return {source for _pyc, source in MATCHES_RE.findall(stderr)}


def bwrap_like_rpm_ostree(
    rootfs: Path,
    argv: Sequence[str],
    *,
    unified_core: bool,
    usr_mount: Path | None = None,
    source_date_epoch: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside `rootfs` the way rpm-ostree runs treefile postprocess scripts.

    Mirrors rpm-ostree's rust/src/bwrap.rs (Bubblewrap::new + bubblewrap_run_sync): a fresh
    /dev, /proc, /run and /tmp, the read-only /sys subdirectories, no network, root's
    capabilities cut down to rpm-ostree's list, the UsrMove symlinks, and the target's
    /usr, /etc and /var bound in. Without unified core /usr, /etc and /var are read-write
    binds; with it /usr and /etc are rofiles-fuse mounts (pass `usr_mount`; /etc is bound
    read-write here) and /var is bound read-only. Environment: LANG, PATH and, when given,
    SOURCE_DATE_EPOCH only; working directory: the target root.
    """
    args: list[str] = [
        "bwrap",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--dir",
        "/run",
        "--dir",
        "/tmp",
        "--chdir",
        "/",
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-ipc",
        "--unshare-cgroup-try",
    ]
    for path in RPM_OSTREE_RO_BINDS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args.append("--unshare-net")
    if os.getuid() == 0:
        args += ["--cap-drop", "ALL"]
        for cap in RPM_OSTREE_CAPS:
            args += ["--cap-add", cap]
    for name in RPM_OSTREE_USR_LINKS:
        if (rootfs / name).is_symlink():
            args += ["--symlink", f"usr/{name}", f"/{name}"]
    if unified_core:
        if usr_mount is None:
            raise ValueError("unified core needs the rofiles-fuse mount of /usr")
        args += ["--bind", str(usr_mount), "/usr", "--bind", "etc", "/etc"]
        args += ["--ro-bind", "var", "/var"]
    else:
        args += ["--bind", "usr", "/usr", "--bind", "etc", "/etc", "--bind", "var", "/var"]
    env = {"LANG": os.environ.get("LANG", "C"), "PATH": RPM_OSTREE_PATH}
    if source_date_epoch is not None:
        env["SOURCE_DATE_EPOCH"] = source_date_epoch
    # bwrap itself is found on the host's PATH; the child sees only `env`.
    return run(
        ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *args, *argv],
        env={},
        cwd=rootfs,
        check=False,
    )


def run_inline_postprocess(
    rootfs: Path,
    script: str,
    index: int,
    *,
    unified_core: bool,
    usr_mount: Path | None = None,
    source_date_epoch: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Do what rpm-ostree's compose_postprocess_scripts() does for inline script `index`:
    write it to /usr/bin/rpmostree-postprocess-inline-N (0755), run it under bwrap, delete it.
    """
    binpath = f"/usr/bin/rpmostree-postprocess-inline-{index}"
    host_path = rootfs / binpath.lstrip("/")
    host_path.write_text(script)
    host_path.chmod(0o755)
    try:
        return bwrap_like_rpm_ostree(
            rootfs,
            [binpath],
            unified_core=unified_core,
            usr_mount=usr_mount,
            source_date_epoch=source_date_epoch,
        )
    finally:
        host_path.unlink()


def ostree_commit_checkout(tree: Path, repo: Path, branch: str, checkout: Path) -> str:
    """Commit `tree` into a bare repo (created if needed) and check it out; return the
    commit checksum."""
    if not (repo / "config").exists():
        run(["ostree", "init", f"--repo={repo}", "--mode=bare"])
    proc = run(["ostree", "commit", f"--repo={repo}", f"--branch={branch}", f"--tree=dir={tree}"])
    commit = proc.stdout.strip().splitlines()[-1]
    run(["ostree", "checkout", f"--repo={repo}", commit, str(checkout)])
    return commit


FileState = tuple[int, int, int, int, int, str]


def snapshot(root: Path, subdirs: Iterable[str]) -> dict[str, FileState]:
    """Record (mode, uid, gid, mtime_ns, size, content-or-link digest) of every entry under
    root/subdir, for each subdir, never following links."""
    state: dict[str, FileState] = {}
    for sub in subdirs:
        top = root / sub
        if not os.path.lexists(top):
            continue
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            for name in [".", *dirnames, *filenames]:
                path = os.path.join(dirpath, name) if name != "." else dirpath
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    digest = "->" + os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as fh:
                        digest = hashlib.sha256(fh.read()).hexdigest()
                else:
                    digest = ""
                rel = os.path.relpath(path, root)
                state[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_size, digest)
    return state


def diff_snapshots(before: Mapping[str, FileState], after: Mapping[str, FileState]) -> list[str]:
    changed = []
    for rel in sorted(set(before) | set(after)):
        if before.get(rel) != after.get(rel):
            changed.append(f"{rel}: {before.get(rel)} -> {after.get(rel)}")
    return changed


def host_rootnorm_shim(bindir: Path) -> Path:
    """A `rootnorm` command on the host: this checkout's source run by the interpreter that
    runs the tests (which has rootnorm's dependencies installed)."""
    bindir.mkdir(parents=True, exist_ok=True)
    shim = bindir / "rootnorm"
    shim.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            PYTHONPATH={SRC_PACKAGE.parent} exec {sys.executable} -B -m rootnorm "$@"
            """
        )
    )
    shim.chmod(0o755)
    return shim


# Packages the rebuild proof installs on the cached rootfs: pycs (requests, yaml), a man-db
# index, fontconfig caches, Debian's JKS cacerts (ca-certificates-java and a JRE), locales,
# and a system user added at install time (dbus's messagebus: a new /etc/shadow line).
PROOF_PACKAGES = " ".join(
    ("python3-requests", "python3-yaml", "man-db", "fontconfig", "fonts-dejavu-core", "locales",
     "dbus", "openjdk-17-jre-headless", "ca-certificates-java")
)  # fmt: skip
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def _in_tree(tree: Path, command: str, env: Mapping[str, str], umask: str = "022") -> None:
    """Run `command` by /bin/sh inside `tree` (bubblewrap: a private /proc and /dev, which
    the JRE's postinst needs) with only `env`."""
    run(
        ["bwrap", "--bind", str(tree), "/", "--proc", "/proc", "--dev", "/dev",
         "--unshare-pid", "--die-with-parent", "/bin/sh", "-c",
         f"umask {umask}; exec env -i " + " ".join(f"{k}='{v}'" for k, v in env.items())
         + " " + command],
        env={},
        timeout=1200,
    )  # fmt: skip


APT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}


def proof_debs(base: Path) -> Path:
    """The .deb files of PROOF_PACKAGES and their dependencies, downloaded once by apt in a
    scratch copy of `base` and cached beside it."""
    cache = cache_dir()
    final = cache / f"{DEBIAN_SUITE}-proof-debs-{CACHE_VERSION}"
    if final.is_dir():
        return final
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_dir():
            return final
        scratch = cache / f".debs-{os.getpid()}"
        if scratch.exists():
            shutil.rmtree(scratch)
        copy_tree(base, scratch)
        command = f"apt-get install -y -q --no-install-recommends --download-only {PROOF_PACKAGES}"
        _in_tree(scratch, command, APT_ENV)
        debs = cache / f".debs-only-{os.getpid()}"
        debs.mkdir()
        for deb in (scratch / "var/cache/apt/archives").glob("*.deb"):
            os.rename(deb, debs / deb.name)
        shutil.rmtree(scratch)
        os.rename(debs, final)
        return final


def build_with_packages(base: Path, dest: Path, debs: Path, when: str, umask: str) -> None:
    """A copy of `base` at `dest` with PROOF_PACKAGES installed by apt-get from `debs` (no
    network), under libfaketime at `when` and with `umask`, the way an image build runs."""
    copy_tree(base, dest)
    for deb in debs.iterdir():
        shutil.copyfile(deb, dest / "var/cache/apt/archives" / deb.name)
    faketime_dir = dest / LIBFAKETIME.parent.relative_to("/")
    faketime_dir.mkdir()
    shutil.copyfile(LIBFAKETIME, faketime_dir / LIBFAKETIME.name)
    env = dict(APT_ENV, LD_PRELOAD=str(LIBFAKETIME), FAKETIME=f"@{when}")
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    command = f"apt-get install -y -q --no-install-recommends {PROOF_PACKAGES}"
    _in_tree(dest, command, env, umask)
    _in_tree(dest, "apt-get clean", APT_ENV)
    shutil.rmtree(faketime_dir)
