"""A mixed image tree built by the real tools, sized for CI (about 1,200 entries).

What an interrupted or failing run is tested on (issue 13): a CPython 3.11 stdlib subset
compiled at -O0/1/2 with hard-linked duplicates, pycs of every pyenv interpreter (2.7, 3.6-3.13,
timestamp, checked-hash and unchecked-hash, one stale), gzip/zip/jar/whl/ar archives (one zip
holding a .py and its pyc), fontconfig caches by the real fc-cache, user.* xattrs, other
owners, hard-link groups inside the tree and with a file outside it, symlinks, a FIFO, odd
names, and files and directories older and newer than EPOCH.

The tree is `BASE/work/root`, with `BASE/work/outside` beside it holding the outside links.
`build` makes it once and keeps a pristine copy in `BASE/template`; `fresh` puts a new copy in
place with `cp -a` (hard links, owners, xattrs and nanosecond mtimes kept), always at the same
path, because fc-cache records the font directories' absolute paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytrees
from testlib import NS, clean_env, interpreter, unavailable

EPOCH = 1_600_000_000  # SOURCE_DATE_EPOCH of the rpm runs: the tree has mtimes on both sides
OLD = 1_500_000_000 * NS + 111_111_111  # before EPOCH: the rpm clamp keeps it
NEW = 1_700_000_000 * NS + 222_222_222  # after EPOCH: clamped
STDLIB_PACKAGES = (
    "email", "json", "http", "urllib", "logging", "concurrent", "importlib", "asyncio", "xml",
    "collections", "encodings",
)  # fmt: skip
ALL_VERSIONS = ("2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
FONTS = Path("/usr/share/fonts/truetype/dejavu")
TOOLS = ("gzip", "zip", "jar", "ar", "fc-cache", "setfattr")
MAN_PAGES = 20  # pipeline.MIN_HEAVY is 16: fewer archives, and --jobs 2 forks no worker
ODD_NAMES = (b"new\nline.txt", b"latin1-\xe9t\xe9.txt", b"bad-\xff\xfe.bin", b"with space.txt")


def work(base: Path) -> Path:
    return base / "work"


def root_of(base: Path) -> Path:
    return work(base) / "root"


def fresh(base: Path) -> Path:
    """A new copy of the pristine tree at `BASE/work`; returns its root."""
    if work(base).exists():
        shutil.rmtree(work(base))
    subprocess.run(["cp", "-a", str(base / "template"), str(work(base))], check=True)
    return root_of(base)


def build(base: Path, packages: tuple[str, ...] = STDLIB_PACKAGES) -> Path:
    """Build the tree at `BASE/work` and its pristine copy at `BASE/template`; returns root.
    `packages`: the stdlib packages it holds (("json",) gives about 300 entries)."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            unavailable(f"the mixed tree needs {tool}")
    if not (FONTS / "DejaVuSans.ttf").is_file():
        unavailable("the mixed tree needs fonts-dejavu-core")
    root = root_of(base)
    outside = work(base) / "outside"
    outside.mkdir(parents=True)
    _stdlib(root, packages)
    pytrees.build(root, ALL_VERSIONS)
    _pyc_kinds(root)
    _archives(root, base / "scratch")
    _oddities(root, outside)
    _mtimes(root, outside)
    _fonts(root)  # last: fc-cache records the font directories' final mtimes
    _dir_mtimes(root)
    subprocess.run(["cp", "-a", str(work(base)), str(base / "template")], check=True)
    return root


def _run(*cmd: str, cwd: Path | None = None, **env: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, cwd=cwd, env=clean_env(**env))


def _compileall(version: str, *args: str) -> None:
    _run(str(interpreter(version)), "-m", "compileall", "-q", *args)


def _stdlib(root: Path, packages: tuple[str, ...]) -> None:
    """Part of the 3.11 stdlib, compiled at every opt level with hard-linked duplicates."""
    python = interpreter("3.11")
    lib = python.parent.parent / "lib" / "python3.11"
    dest = root / "usr/lib/python3.11"
    for package in packages:
        shutil.copytree(
            lib / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "test*")
        )
    # a NaN constant: two compiles of this module compare unequal
    (dest / "nanconst.py").write_text("NAN = 1e400 - 1e400\n")
    (dest / "with space.py").write_text("SPACE = ' '\n")
    for i, path in enumerate(sorted(dest.rglob("*.py"))):
        stamp = OLD if i % 3 == 0 else NEW  # sources older and newer than EPOCH
        os.utime(path, ns=(stamp + i, stamp + i))
    _compileall("3.11", "-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes", str(dest))


def _pyc_kinds(root: Path) -> None:
    """Unchecked-hash pycs (3.11 and 3.8) beside pytrees' timestamp and checked-hash ones, and
    two stale pycs whose headers hold a final mtime (0, EPOCH): edited after compiling, so
    rootnorm must remove them (ostree, rpm) rather than let them look valid."""
    pkg = root / "usr/lib/unchecked"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "frozen.py").write_text("FROZEN = True\n")
    for version in ("3.8", "3.11"):
        _compileall(version, "--invalidation-mode", "unchecked-hash", str(pkg))
    tampered = root / "usr/lib/tampered"
    tampered.mkdir(parents=True)
    for name, compiled_at in (("zeroed.py", 0), ("clamped.py", EPOCH * NS)):
        source = tampered / name
        source.write_text("STATE = 'old'\n")
        os.utime(source, ns=(compiled_at, compiled_at))
        _compileall("3.11", str(source))
        source.write_text("STATE = 'new'\n")
        os.utime(source, ns=(NEW, NEW))


def _archives(root: Path, scratch: Path) -> None:
    """Archives made by the real tools, with build times in them."""
    share = root / "usr/share/doc/pkg"
    share.mkdir(parents=True)
    scratch.mkdir(parents=True)
    text = "".join(f"line {i} of a changelog\n" for i in range(400))
    for name in ("changelog", "NEWS", "README"):
        (share / name).write_text(text)
        os.utime(share / name, ns=(NEW, NEW))
        _run("gzip", "-9", str(share / name))  # records the name and the mtime
    man = root / "usr/share/man/man1"  # enough archives for --jobs 2 to fork its workers
    man.mkdir(parents=True)
    for i in range(MAN_PAGES):
        page = man / f"tool{i}.1"
        page.write_text(f".TH TOOL{i} 1\n.SH NAME\ntool{i} \\- does {i}\n" + text[: 40 * i])
        os.utime(page, ns=(NEW, NEW))
        _run("gzip", "-9", str(page))
    content = scratch / "content"
    (content / "pkg").mkdir(parents=True)
    (content / "pkg/data.txt").write_text(text)
    (content / "pkg/mod.py").write_text("def g():\n    return 'zip'\n")
    _compileall("3.11", str(content / "pkg/mod.py"))
    (content / "META-INF").mkdir()
    (content / "META-INF/MANIFEST.MF").write_text("Manifest-Version: 1.0\n")
    dist = content / "pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    (dist / "RECORD").write_text("")
    java = root / "usr/share/java"
    wheels = root / "usr/share/wheels"
    java.mkdir(parents=True)
    wheels.mkdir(parents=True)
    _run("zip", "-q", "-r", str(share / "data.zip"), "pkg/data.txt", cwd=content)
    _run("zip", "-q", "-r", str(share / "withpyc.zip"), "pkg", cwd=content)  # .py + its pyc
    _run("zip", "-q", "-r", str(wheels / "pkg-1.0-py3-none-any.whl"), "pkg",
         "pkg-1.0.dist-info", cwd=content)  # fmt: skip
    _run("jar", "cf", str(java / "pkg.jar"), "-C", str(content), "pkg/data.txt")
    lib = root / "usr/lib/static"
    lib.mkdir(parents=True)
    _run("ar", "rcU", str(lib / "libpkg.a"), "pkg/data.txt", "pkg/mod.py", cwd=content)


def _oddities(root: Path, outside: Path) -> None:
    """Links, a FIFO, odd names, xattrs and owners."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    odd = os.fsencode(root / "usr/share/odd")
    os.makedirs(odd)
    for name in ODD_NAMES:
        with open(os.path.join(odd, name), "wb") as f:
            f.write(b"odd name " + name + b"\n")
    os.mkfifo(root / "etc/initctl")
    (etc / "hosts").write_text("127.0.0.1 localhost\n")
    os.symlink("hosts", etc / "hosts.link")
    os.symlink("/etc/hosts", etc / "absolute.link")
    os.symlink("missing", etc / "dangling.link")
    os.symlink("../usr/lib/python3.11", etc / "pylib")
    doc = root / "usr/share/doc/pkg"
    os.link(doc / "changelog.gz", root / "usr/share/doc/changelog-copy.gz")  # a group inside
    stdlib = root / "usr/lib/python3.11"
    os.link(stdlib / "json/__pycache__/decoder.cpython-311.pyc", outside / "decoder.pyc")
    os.link(doc / "NEWS.gz", outside / "NEWS.gz")
    os.link(etc / "hosts", outside / "hosts")
    os.link(root / "usr/lib/static/libpkg.a", outside / "libpkg.a")
    for path, value in (
        (stdlib / "json/__pycache__/encoder.cpython-311.pyc", b"pyc"),
        (stdlib / "json/encoder.py", b"source"),
        (doc / "README.gz", b"gzip"),
        (root / "usr/share/java/pkg.jar", b"jar"),
        (root / "usr/share/odd", b"directory"),
    ):
        _run("setfattr", "-n", "user.rootnorm-test", "-v", value.decode(), str(path))
    for path in (
        stdlib / "json/__pycache__/scanner.cpython-311.pyc",
        stdlib / "json/scanner.py",
        doc / "NEWS.gz",
        root / "usr/share/wheels/pkg-1.0-py3-none-any.whl",
        root / "usr/share/odd",
    ):
        os.chown(path, 4321, 8765)
        os.chmod(path, 0o750 if path.is_dir() else 0o640)


def _mtimes(root: Path, outside: Path) -> None:
    """Non-directories not yet set get OLD or NEW in turn (pycs keep the time they were made:
    their headers hold their sources' times, not theirs)."""
    base = os.fsencode(root)
    for i, (dirpath, _dirs, files) in enumerate(sorted(os.walk(base))):
        for j, name in enumerate(sorted(files)):
            path = os.path.join(dirpath, name)
            if name.endswith((b".py", b".pyc")) or os.path.islink(path):
                continue
            stamp = OLD if (i + j) % 2 else NEW
            os.utime(path, ns=(stamp, stamp), follow_symlinks=False)
    os.utime(root / "etc/hosts.link", ns=(NEW, NEW), follow_symlinks=False)
    os.utime(root / "etc/dangling.link", ns=(OLD, OLD), follow_symlinks=False)
    del outside  # its files share inodes with the tree: their mtimes are the tree's


def _fonts(root: Path) -> None:
    """Two font directories and their caches, by the real fc-cache (host paths into the tree:
    its --sysroot finds no fonts in this fontconfig)."""
    fonts = root / "usr/share/fonts"
    cache = root / "usr/lib/fontconfig/cache"
    for sub, font in (("sans", "DejaVuSans.ttf"), ("mono", "DejaVuSansMono.ttf")):
        (fonts / sub).mkdir(parents=True)
        shutil.copyfile(FONTS / font, fonts / sub / font)
        os.utime(fonts / sub / font, ns=(NEW, NEW))
    cache.mkdir(parents=True)
    conf = root / "etc/fonts/fonts.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        f"<?xml version='1.0'?>\n<fontconfig><dir>{fonts}</dir>"
        f"<cachedir>{cache}</cachedir></fontconfig>\n"
    )
    os.utime(conf, ns=(OLD, OLD))
    _dir_mtimes(root)
    _run("fc-cache", FONTCONFIG_FILE=str(conf))
    caches = [p for p in cache.iterdir() if ".cache-" in p.name]
    assert len(caches) == 3, caches


def _dir_mtimes(root: Path) -> None:
    """Every directory gets OLD or NEW in turn, deepest first (the font directories' times
    are the same at each call, so their caches stay current)."""
    dirs = sorted((p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()), reverse=True)
    for i, path in enumerate(dirs):
        stamp = OLD + i if i % 2 else NEW + i
        os.utime(path, ns=(stamp, stamp))
    os.utime(root, ns=(NEW, NEW))
