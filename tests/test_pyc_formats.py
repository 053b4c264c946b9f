"""Header layouts, source locations and source hashes, against real interpreters' output."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from testlib import clean_env, interpreter

from rootnorm.pyc import header
from rootnorm.pyc.siphash import source_hash
from rootnorm.pyc.source import source_of

CODE = b"\xe3" + b"\0" * 20


def _pyc(magic: int, *fields: int) -> bytes:
    return struct.pack("<H", magic) + b"\r\n" + struct.pack(f"<{len(fields)}I", *fields) + CODE


@pytest.mark.parametrize(
    ("magic", "size"),
    [
        (62211, 8),
        (20121, 8),
        (3180, 8),
        (3379, 12),
        (3390, 12),
        (3391, 12),
        (3392, 16),
        (3413, 16),
        (3571, 16),
        (3750, 16),
    ],
)
def test_layout_by_magic(magic: int, size: int) -> None:
    fields = (7,) if size == 8 else (7, 9) if size == 12 else (0, 7, 9)
    parsed = header.parse(_pyc(magic, *fields))
    assert isinstance(parsed, header.Header)
    assert parsed.size == size
    assert parsed.mtime == 7
    assert parsed.mtime_offset == (8 if size == 16 else 4)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x0d\x0d", "truncated"),
        (b"garbage!" * 4, "no pyc magic"),
        (_pyc(3413, 4, 7, 9), "flags"),
        (_pyc(3413, 0, 7, 9)[:16], "truncated"),
        (_pyc(3413, 0, 7, 9)[:16] + b"x", "no code object"),
        (_pyc(300, 1, 2), "not a CPython"),
    ],
)
def test_not_a_usable_pyc(data: bytes, why: str) -> None:
    parsed = header.parse(data)
    assert isinstance(parsed, str)
    assert why in parsed


def test_hash_based_has_no_mtime() -> None:
    parsed = header.parse(_pyc(3495, 3, 0xAAAA, 0xBBBB))
    assert isinstance(parsed, header.Header)
    assert parsed.hash_based
    assert parsed.mtime is None


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.8", "3.11", "3.13"])
def test_real_pycs_parse(tmp_path: Path, version: str) -> None:
    src = tmp_path / "m.py"
    src.write_text("X = 1\n")
    python = str(interpreter(version))
    code = "import py_compile; py_compile.compile('m.py', cfile='m.pyc', doraise=True)"
    subprocess.run([python, "-c", code], cwd=tmp_path, env=clean_env(), check=True)
    parsed = header.parse((tmp_path / "m.pyc").read_bytes()[:4096])
    assert isinstance(parsed, header.Header)
    assert parsed.mtime == int(src.stat().st_mtime)
    assert parsed.size == {"2.7": 8, "3.6": 12}.get(version, 16)


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (b"a/__pycache__/mod.cpython-311.pyc", (b"a/mod.py", False)),
        (b"a/__pycache__/mod.cpython-311.opt-2.pyc", (b"a/mod.py", False)),
        (b"__pycache__/mod.cpython-34.pyo", (b"mod.py", False)),
        (b"a/__pycache__/mod.pyc", None),
        (b"a/__pycache__/x.y.z.w.pyc", None),
        (b"a/mod.pyc", (b"a/mod.py", True)),
        (b"mod.pyo", (b"mod.py", True)),
        (b"a/mod.txt", None),
    ],
)
def test_source_of(rel: bytes, expected: tuple[bytes, bool] | None) -> None:
    assert source_of(rel) == expected


@pytest.mark.parametrize("version", ["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"])
def test_source_hash_matches_each_interpreter(version: str) -> None:
    """The pure-Python SipHash reproduces importlib.util.source_hash of every CPython 3.7+."""
    samples = [b"", b"x", b"12345678", b"print('hello')\n" * 37, bytes(range(256))]
    code = (
        "import importlib.util, sys\n"
        f"for s in {samples!r}:\n"
        "    print(importlib.util.MAGIC_NUMBER.hex(), importlib.util.source_hash(s).hex())\n"
    )
    proc = subprocess.run(
        [str(interpreter(version)), "-c", code],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    for sample, line in zip(samples, proc.stdout.split("\n")):
        magic, expected = line.split()
        assert source_hash(bytes.fromhex(magic), sample).hex() == expected
