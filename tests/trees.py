"""Small builders and observers of real trees for the safety and hostile-input tests."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import stat
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

from testlib import NS, clean_env, interpreter

MAGIC = importlib.util.MAGIC_NUMBER  # the running interpreter's (3.9+: a PEP 552 layout)
TAG = importlib.util.cache_from_source("m.py").rpartition("/")[2].split(".")[1]  # cpython-3XY
TEMP_SUFFIX = b".rootnorm-tmp"


def write_source(path: Path, text: str, mtime: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime * NS, mtime * NS))
    return path


def cache_of(source: Path, opt: str = "", tag: str = TAG) -> Path:
    """`pkg/__pycache__/mod.TAG[.opt-N].pyc` for `pkg/mod.py`."""
    name = source.name[: -len(".py")] if source.name.endswith(".py") else source.name
    suffix = f".opt-{opt}" if opt else ""
    return source.parent / "__pycache__" / f"{name}.{tag}{suffix}.pyc"


def pyc_bytes(code_text: str, mtime: int, size: int, flags: int = 0) -> bytes:
    """A timestamp pyc of the running interpreter, with the header fields given."""
    code = compile(code_text, "<rootnorm-test>", "exec")
    return MAGIC + struct.pack("<III", flags, mtime & 0xFFFFFFFF, size) + marshal.dumps(code)


def compile_valid(source: Path, cache: Path | None = None, mtime: int = 1_000_000) -> Path:
    """A pyc that is valid against `source` as it is now; the pyc file's own mtime is `mtime`."""
    cache = cache or cache_of(source)
    cache.parent.mkdir(parents=True, exist_ok=True)
    st = os.stat(source)
    text = source.read_bytes().decode("utf-8", "replace")
    cache.write_bytes(pyc_bytes(text, st.st_mtime_ns // NS, st.st_size))
    os.utime(cache, ns=(mtime * NS, mtime * NS))
    return cache


def header(pyc: Path) -> tuple[int, int, int]:
    """(flags, mtime, size) of a 16-byte pyc header."""
    flags, mtime, size = struct.unpack_from("<III", pyc.read_bytes(), 4)
    return flags, mtime, size


def valid_against(pyc: Path, source: Path) -> bool:
    """True when the import system would accept this timestamp pyc for `source`."""
    flags, mtime, size = header(pyc)
    st = os.stat(source)
    return (
        flags == 0
        and mtime == (st.st_mtime_ns // NS) & 0xFFFFFFFF
        and size == st.st_size & 0xFFFFFFFF
    )


def compileall(root: Path, version: str = "3.9") -> None:
    """Real compileall with every opt level and hard-linked duplicates, in a clean env."""
    python = interpreter(version)
    subprocess.run(
        [str(python), "-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2",
         "--hardlink-dupes", str(root)],
        env=clean_env(),
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


def entries(root: Path) -> Iterator[tuple[bytes, os.stat_result]]:
    """Every entry under `root` (not the root), lstat'ed, as root-relative bytes paths."""
    base = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            yield os.path.relpath(path, base), os.lstat(path)


def link_groups(root: Path) -> set[frozenset[bytes]]:
    """The hard-link partition of the tree's non-directories (groups of two or more names)."""
    groups: dict[tuple[int, int], set[bytes]] = {}
    for rel, st in entries(root):
        if not stat.S_ISDIR(st.st_mode):
            groups.setdefault((st.st_dev, st.st_ino), set()).add(rel)
    return {frozenset(names) for names in groups.values() if len(names) > 1}


def state(root: Path) -> dict[bytes, tuple[int, int, int, int, int, bytes | None]]:
    """Inode-independent state: mode, owner, group, mtime, rdev and content or link target."""
    result = {}
    base = os.fsencode(root)
    for rel, st in entries(root):
        data: bytes | None = None
        if stat.S_ISREG(st.st_mode):
            with open(os.path.join(base, rel), "rb") as f:
                data = f.read()
        elif stat.S_ISLNK(st.st_mode):
            data = os.readlink(os.path.join(base, rel))
        result[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_rdev, data)
    return result


def temp_files(root: Path) -> list[bytes]:
    return [rel for rel, _ in entries(root) if rel.endswith(TEMP_SUFFIX)]


def xattrs(path: Path) -> dict[str, bytes]:
    return {name: os.getxattr(path, name) for name in os.listxattr(path)}


def read_report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def outcomes(report: dict[str, object]) -> dict[tuple[str, str], tuple[str, str]]:
    """(path, handler) -> (outcome, detail) from a JSON report."""
    files = report["files"]
    assert isinstance(files, list)
    return {(f["path"], f["handler"]): (f["outcome"], f.get("detail", "")) for f in files}


def set_mtime(path: Path, seconds: int) -> None:
    os.utime(path, ns=(seconds * NS, seconds * NS), follow_symlinks=False)
