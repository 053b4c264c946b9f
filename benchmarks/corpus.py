#!/usr/bin/env python3
"""Build and cache the benchmark corpora, outside the repository.

Corpora (each one a directory ``<cache>/<name>/root`` plus a ``<cache>/<name>/complete.json``
marker written only once the tree is finished; a present marker means "reuse as is"):

``debian``
    A Debian bookworm rootfs from ``debootstrap --variant=minbase`` with Python, numpy,
    requests, yaml, man pages, fontconfig and a headless JRE, byte-compiled the Fedora way
    (``compileall -o 0 -o 1 -o 2 --hardlink-dupes``) inside the chroot under ``env -i``.
``scaled``
    ``copy-0`` … ``copy-N`` subdirectories, each a ``cp -a`` of ``debian`` (hard links are kept
    within a copy, never shared between copies or with ``debian``).
``tiny``
    A few hundred entries made in pure Python (py_compile, gzip, zip, jar, ar), for CI.

The cache is ``$ROOTNORM_BENCH_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/rootnorm-bench``;
``--cache DIR`` overrides both.  Usage::

    python3 benchmarks/corpus.py [--cache DIR] [--copies N] {tiny,debian,scaled,all}
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PACKAGES = (
    "python3",
    "python3-numpy",
    "python3-requests",
    "python3-yaml",
    "man-db",
    "manpages",
    "fontconfig",
    "default-jre-headless",
)
# The packages above give only ~16k entries, 2.4k pyc inodes and 2 jars: far less Python and
# Java than the 38k-entry reference tree (8.8k pyc inodes, 57 jars).  These bring it close, and
# closer to what Fedora images carry (pip, setuptools, a big pure-Python library, Java libs).
EXTRA_PACKAGES = ("python3-pip", "python3-setuptools", "python3-sympy", "maven")
CHROOT_PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_COPIES = 11
# The tiny tree's "build time": every file gets this mtime before its pyc is compiled.
TINY_BUILD_MTIME = 1_700_000_000
CORPORA = ("tiny", "debian", "scaled")
ARCHIVE_SUFFIXES = (".gz", ".jar", ".zip", ".a")


@dataclass
class TreeStats:
    """Counts describing a tree, as printed and stored in the marker file."""

    entries: int = 0
    directories: int = 0
    regular_files: int = 0
    symlinks: int = 0
    other: int = 0
    py_files: int = 0
    pyc_names: int = 0
    pyc_inodes: int = 0
    hardlink_groups: int = 0
    hardlinked_names: int = 0
    archives: int = 0
    bytes: int = 0


@dataclass
class Corpus:
    """A finished corpus: its tree and what the marker file records."""

    name: str
    root: Path
    stats: TreeStats
    build_seconds: float


def default_cache() -> Path:
    env = os.environ.get("ROOTNORM_BENCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "rootnorm-bench"


def tree_stats(root: Path) -> TreeStats:
    """Count entries below ``root`` (``root`` itself excluded) with one lstat each."""
    st = TreeStats()
    pyc_inodes: set[tuple[int, int]] = set()
    links: dict[tuple[int, int], int] = {}
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                info = entry.stat(follow_symlinks=False)
                st.entries += 1
                mode = info.st_mode
                if stat.S_ISDIR(mode):
                    st.directories += 1
                    stack.append(entry.path)
                elif stat.S_ISREG(mode):
                    st.regular_files += 1
                    key = (info.st_dev, info.st_ino)
                    if key not in links:
                        st.bytes += info.st_size
                    if info.st_nlink > 1:
                        links[key] = links.get(key, 0) + 1
                    name = entry.name
                    if name.endswith(".py"):
                        st.py_files += 1
                    elif name.endswith(".pyc"):
                        st.pyc_names += 1
                        pyc_inodes.add(key)
                    elif name.endswith(ARCHIVE_SUFFIXES):
                        st.archives += 1
                elif stat.S_ISLNK(mode):
                    st.symlinks += 1
                else:
                    st.other += 1
    st.pyc_inodes = len(pyc_inodes)
    st.hardlink_groups = len(links)
    st.hardlinked_names = sum(links.values())
    return st


def _marker(cache: Path, name: str) -> Path:
    return cache / name / "complete.json"


def load(cache: Path, name: str) -> Corpus | None:
    """Return the finished corpus ``name``, or None when it is not (completely) built."""
    marker = _marker(cache, name)
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    return Corpus(name, cache / name / "root", TreeStats(**data["stats"]), data["build_seconds"])


def _mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    return [p for p in points if p.startswith(prefix)]


def remove_tree(path: Path) -> None:
    """``rm -rf`` a tree, refusing when something is mounted inside it (a chroot's /proc)."""
    if not os.path.lexists(path):
        return
    mounted = _mounts_below(path)
    if mounted:
        raise RuntimeError(f"refusing to remove {path}: mount points inside: {mounted}")
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


def fresh_copy(src: Path, dst: Path) -> None:
    """Copy a tree with ``cp -a`` (hard links within it kept), replacing ``dst``."""
    remove_tree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def _build(cache: Path, name: str, make: Callable[[Path], None]) -> Corpus:
    """Run ``make`` on a temporary tree, then move it into place and write the marker."""
    found = load(cache, name)
    if found is not None:
        return found
    base = cache / name
    work = base / "root.partial"
    remove_tree(base / "root")
    remove_tree(work)
    base.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    make(work)
    seconds = time.monotonic() - start
    work.rename(base / "root")
    stats = tree_stats(base / "root")
    marker = {"name": name, "build_seconds": round(seconds, 1), "stats": asdict(stats)}
    _marker(cache, name).write_text(json.dumps(marker, indent=2) + "\n")
    return Corpus(name, base / "root", stats, seconds)


def _make_debian(root: Path) -> None:
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(PACKAGES + EXTRA_PACKAGES),
            SUITE,
            str(root),
            MIRROR,
        ],
        check=True,
    )
    if _mounts_below(root):
        raise RuntimeError(f"debootstrap left mounts below {root}: {_mounts_below(root)}")
    # ostree refuses device nodes; debootstrap leaves a populated /dev.
    for entry in (root / "dev").iterdir():
        remove_tree(entry)
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)
    dirs = sorted("/" + str(p.relative_to(root)) for p in (root / "usr/lib").glob("python3*"))
    # env -i: this host exports PYTHONDONTWRITEBYTECODE=1, and SOURCE_DATE_EPOCH would make
    # compileall write checked-hash pycs; Fedora's build makes timestamp pycs.
    subprocess.run(
        [
            *("env", "-i", CHROOT_PATH, "chroot", str(root), "python3", "-m", "compileall"),
            *("-q", "-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes", *dirs),
        ],
        check=True,
    )


def _make_scaled(source: Path, copies: int) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        root.mkdir()
        for i in range(copies):
            subprocess.run(["cp", "-a", str(source), str(root / f"copy-{i}")], check=True)

    return make


def _ar_archive(members: dict[str, bytes], mtime: int) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name + '/':<16}{mtime:<12}{1000:<6}{1000:<6}{0o100644:<8o}{len(data):<10}`\n"
        out.write(header.encode("ascii"))
        out.write(data)
        if len(data) % 2:
            out.write(b"\n")
    return out.getvalue()


def _zip_bytes(members: dict[str, bytes], date_time: tuple[int, int, int, int, int, int]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time), data)
    return out.getvalue()


def _write_gzip(path: Path, data: bytes, mtime: int) -> None:
    """Like gzip(1): the stored name (FNAME) is the file name without .gz."""
    with open(path, "wb") as raw, gzip.GzipFile(path.stem, "wb", 9, raw, mtime=mtime) as gz:
        gz.write(data)


def _make_tiny(root: Path) -> None:
    """A small usr/ tree with the shapes the real corpus has, in well under a second."""
    lib = root / "usr/lib/python3.11/site-packages"
    sources: list[Path] = []
    for p in range(6):
        pkg = lib / f"pkg{p}"
        for s in range(3):
            sub = pkg / f"sub{s}"
            sub.mkdir(parents=True)
            (sub / "__init__.py").write_text("")  # empty sources: common, and a known trap
            sources.append(sub / "__init__.py")
            for m in range(4):
                mod = sub / f"mod{m}.py"
                mod.write_text(
                    f'"""Module {p}.{s}.{m}."""\n\nVALUE = {m}\n\n\n'
                    f"def f(x):\n    assert x\n    return x + VALUE\n"
                )
                sources.append(mod)
        (pkg / "__init__.py").write_text(f"NAME = 'pkg{p}'\n")
        sources.append(pkg / "__init__.py")
    for src in sources:
        os.utime(src, (TINY_BUILD_MTIME, TINY_BUILD_MTIME))
    for i, src in enumerate(sources):
        previous: Path | None = None
        for opt in (0, 1, 2):
            # Fedora-like: mostly timestamp pycs; a few checked-hash ones, which must stay intact.
            mode = (
                py_compile.PycInvalidationMode.CHECKED_HASH
                if i % 17 == 0
                else py_compile.PycInvalidationMode.TIMESTAMP
            )
            cfile = Path(py_compile.compile(str(src), optimize=opt, invalidation_mode=mode))
            if previous is not None and previous.read_bytes() == cfile.read_bytes():
                cfile.unlink()
                os.link(previous, cfile)  # what compileall --hardlink-dupes does
            previous = cfile
    # A stale pyc: its source edited (same size) after compiling; it must never look valid.
    stale = sources[5]
    stale.write_text(stale.read_text().replace("VALUE = 1", "VALUE = 9"))
    os.utime(stale, (TINY_BUILD_MTIME + 60, TINY_BUILD_MTIME + 60))
    os.symlink("pkg0", lib / "pkg0-link")
    os.symlink("site-packages/pkg0/sub0/mod0.py", root / "usr/lib/python3.11/dangling-or-not")

    doc = root / "usr/share/doc"
    man = root / "usr/share/man/man1"
    java = root / "usr/share/java"
    ar_dir = root / "usr/lib/x86_64-linux-gnu"
    for d in (doc, man, java, ar_dir):
        d.mkdir(parents=True)
    when = (2023, 11, 14, 22, 13, 20)
    for i in range(20):
        (doc / f"pkg{i}").mkdir()
        changelog = f"pkg{i} (1.0-{i}) unstable; urgency=low\n".encode() * 50
        _write_gzip(doc / f"pkg{i}/changelog.gz", changelog, TINY_BUILD_MTIME + i)
        manpage = f".TH TOOL{i} 1\n.SH NAME\ntool{i}\n".encode()
        _write_gzip(man / f"tool{i}.1.gz", manpage, TINY_BUILD_MTIME)
    for i in range(3):
        (java / f"lib{i}.jar").write_bytes(
            _zip_bytes(
                {
                    "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nBuilt-By: someone\r\n\r\n",
                    f"org/example/C{i}.class": b"\xca\xfe\xba\xbe" + bytes(64),
                },
                when,
            )
        )
        (doc / f"pkg{i}/examples.zip").write_bytes(
            _zip_bytes({"README": b"example\n", "data/x.txt": b"x" * 100}, when)
        )
        (ar_dir / f"libfoo{i}.a").write_bytes(
            _ar_archive(
                {"a.o": b"\x7fELF" + bytes(60), "b.o": b"\x7fELF" + bytes(61)}, TINY_BUILD_MTIME
            )
        )
    (root / "etc").mkdir()
    (root / "etc/hostname").write_text("tiny\n")
    (root / "etc/empty").write_bytes(b"")


def build(cache: Path, name: str, copies: int = DEFAULT_COPIES) -> Corpus:
    """Return corpus ``name``, building it (and what it derives from) when not cached."""
    if name == "tiny":
        return _build(cache, name, _make_tiny)
    if name == "debian":
        return _build(cache, name, _make_debian)
    if name == "scaled":
        debian = build(cache, "debian")
        return _build(cache, name, _make_scaled(debian.root, copies))
    raise ValueError(f"unknown corpus {name!r} (choose from {', '.join(CORPORA)})")


def describe(corpus: Corpus) -> str:
    s = corpus.stats
    return (
        f"{corpus.name}: {s.entries} entries ({s.directories} dirs, {s.regular_files} files, "
        f"{s.symlinks} symlinks, {s.other} other), {s.py_files} .py, {s.pyc_names} pyc names "
        f"in {s.pyc_inodes} pyc inodes, {s.hardlink_groups} hard-link groups "
        f"({s.hardlinked_names} names), {s.archives} archives, {s.bytes / 1e6:.0f} MB; "
        f"built in {corpus.build_seconds:.1f} s; at {corpus.root}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=(*CORPORA, "all"))
    parser.add_argument("--cache", type=Path, default=default_cache(), help="cache directory")
    parser.add_argument(
        "--copies",
        type=int,
        default=DEFAULT_COPIES,
        help="copies of debian in the scaled tree (default %(default)s)",
    )
    args = parser.parse_args(argv)
    names = CORPORA if args.corpus == "all" else (args.corpus,)
    if any(n != "tiny" for n in names) and os.geteuid() != 0:
        print("debootstrap and chroot need root", file=sys.stderr)
        return 2
    for name in names:
        print(describe(build(args.cache, name, args.copies)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
