"""Verification by content is bounded whatever a pyc's bytes: hostile marshal streams are
refused before `marshal.loads`, every real cache is accepted, the tree's warnings stay quiet."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import warnings
from pathlib import Path

import crafted_pycs
import pytest
from testlib import PYENV, SRC, interpreter

from rootnorm.pyc.marshalcheck import problem
from rootnorm.pyc.verify import same_code

TAG = sys.implementation.cache_tag
MEMORY = 1 << 30  # address space of the whole CLI run: crafted pycs asked for 16 GB


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("huge-tuple", "declares more than it holds"),
        ("huge-list", "declares more than it holds"),
        ("huge-long", "declares more than it holds"),
        ("ref-dag", "references expand beyond a bound"),
        ("ref-cycle", "reference to an object still being read"),
        ("deep", "nested deeper than"),
    ],
)
def test_crafted_streams_refused(name: str, why: str) -> None:
    body = crafted_pycs.bodies()[name]
    found = problem(crafted_pycs.header() + body, 16)
    assert found is not None and why in found
    assert same_code(crafted_pycs.header() + body, 16, crafted_pycs.SOURCE, 0) is False


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\xe3" + b"\0" * 4, "truncated"),
        (b"[\0\0\0\0", "never in a pyc"),
        (b"{0", "never in a pyc"),
        (b"S", "never in a pyc"),
        (b"r\0\0\0\0", "invalid reference"),
        (b"N", "no code object"),
    ],
)
def test_streams_no_compile_makes(body: bytes, why: str) -> None:
    found = problem(body, 0)
    assert found is not None and why in found


def test_code_field_types_checked() -> None:
    """A code object whose bytecode field is a str would reach the code constructor."""
    data = bytearray(marshal.dumps(compile(crafted_pycs.SOURCE, "m", "exec")))
    at = 1 + 4 * (5 if sys.version_info >= (3, 11) else 6)
    assert data[at] & 0x7F == ord("s")
    data[at] = (data[at] & 0x80) | ord("u")
    found = problem(bytes(data), 0)
    assert found is not None and "field of type str, not bytes" in found


def test_real_caches_accepted_and_verified(tmp_path: Path) -> None:
    source = (Path(os.__file__)).read_bytes()
    code = compile(source, "os.py", "exec", dont_inherit=True)
    stream = marshal.dumps(code)
    assert problem(stream, 0) is None
    assert same_code(crafted_pycs.header(source) + stream, 16, source, 0)


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.9", "3.10", "3.11", "3.12", "3.13"])
def test_every_stdlib_cache_accepted(version: str) -> None:
    """Under each interpreter, its own standard library's caches pass the check: 0 false
    refusals (one cache in 16 here; all 40,568 of the five when measured)."""
    python = interpreter(version)
    lib = next((python.parent.parent / "lib").glob("python3.*"))
    script = (
        "import importlib.util, pathlib, sys\n"
        "from rootnorm.pyc.marshalcheck import problem\n"
        "tag = sys.implementation.cache_tag\n"
        "paths = sorted(pathlib.Path(sys.argv[1]).rglob(f'*.{tag}*.pyc'))[::16]\n"
        "bad = [p for p in paths if (d := p.read_bytes())[:4] == importlib.util.MAGIC_NUMBER\n"
        "       and problem(d, 16) is not None]\n"
        "print(len(paths), bad[:3])\n"
        "sys.exit(1 if bad or len(paths) < 200 else 0)\n"
    )
    done = subprocess.run(
        [str(python), "-B", "-c", script, str(lib)],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert PYENV.is_dir()


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    """The CLI under a 1 GiB address space and a time limit."""
    command = [sys.executable, "-B", "-m", "rootnorm", "--profile", "ostree", str(root)]
    return subprocess.run(
        ["prlimit", f"--as={MEMORY}", *command],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_bounded_on_crafted_pycs(tmp_path: Path) -> None:
    """Every crafted cache (of a touched source: verified by content) is reported stale and
    left byte-identical, and the run goes on to a valid cache beside them."""
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    crafted = {}
    for name, body in crafted_pycs.bodies().items():
        module = name.replace("-", "_")
        (tmp_path / f"{module}.py").write_bytes(crafted_pycs.SOURCE)
        path = cache / f"{module}.{TAG}.pyc"
        path.write_bytes(crafted_pycs.header() + body)
        crafted[path] = path.read_bytes()
    (tmp_path / "valid.py").write_bytes(crafted_pycs.SOURCE)
    code = compile(crafted_pycs.SOURCE, str(tmp_path / "valid.py"), "exec", dont_inherit=True)
    (cache / f"valid.{TAG}.pyc").write_bytes(crafted_pycs.header() + marshal.dumps(code))
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for path, content in crafted.items():
        assert path.read_bytes() == content
    assert f"pyc: 1 changed, {len(crafted)} stale" in done.stdout, done.stdout
    assert done.stdout.count("stale: ") == len(crafted)


def test_cli_quiet_on_warnings_of_the_tree(tmp_path: Path) -> None:
    """Verifying a cache compiles its source: the SyntaxWarnings (DeprecationWarnings before
    3.12) of the tree's code are not shown to the user."""
    source = b'import re\nPATTERN = re.compile("\\d+")\nSAME = 1 is 1\n'
    (tmp_path / "warns.py").write_bytes(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = compile(source, str(tmp_path / "warns.py"), "exec", dont_inherit=True)
    (tmp_path / "__pycache__").mkdir()
    pyc = tmp_path / "__pycache__" / f"warns.{TAG}.pyc"
    pyc.write_bytes(crafted_pycs.header(source) + marshal.dumps(code))
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pyc: 1 changed" in done.stdout, done.stdout
    assert done.stderr == ""
