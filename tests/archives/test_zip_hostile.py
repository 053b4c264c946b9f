"""Zips the planner must not touch: left byte-identical and reported as unsupported."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from archive_helpers import assert_left_unsupported, clamp, needs, normalise, run

from rootnorm.decisions import Leave

WHEN = (2024, 3, 1, 10, 0, 0)


def _zip(names: tuple[str, ...] = ("a.txt", "b.txt")) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        for name in names:
            archive.writestr(zipfile.ZipInfo(name, WHEN), name.encode() * 100)
    return sink.getvalue()


def _central(blob: bytes) -> int:
    return struct.unpack_from("<I", blob, len(blob) - 6)[0]


def _grow_first_entry(blob: bytes) -> bytes:
    """Entry a.txt claims one more compressed byte than it has: it overlaps b.txt's header."""
    out = bytearray(blob)
    size = struct.unpack_from("<I", out, 18)[0]
    struct.pack_into("<I", out, 18, size + 1)
    struct.pack_into("<I", out, _central(blob) + 20, size + 1)
    return bytes(out)


def _huge_size(blob: bytes) -> bytes:
    out = bytearray(blob)
    struct.pack_into("<I", out, 18, 10**9)
    struct.pack_into("<I", out, _central(blob) + 20, 10**9)
    return bytes(out)


def _apk_block(blob: bytes) -> bytes:
    cd = _central(blob)
    block = b"\0" * 8 + b"APK Sig Block 42"
    out = bytearray(blob[:cd] + block + blob[cd:])
    struct.pack_into("<I", out, len(out) - 6, cd + len(block))
    return bytes(out)


CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "no zip magic"),
    "wrong-magic": (lambda: b"just text in a file named .jar\n", "no zip magic"),
    "truncated": (lambda: _zip()[:150], "no end of central directory"),
    "size-beyond-file": (lambda: _huge_size(_zip()), "runs into the central directory"),
    "overlap": (lambda: _grow_first_entry(_zip()), "overlap"),
    "dot-dot": (lambda: _zip(("ok.txt", "../evil.txt")), "unsafe entry name"),
    "absolute": (lambda: _zip(("/etc/evil",)), "unsafe entry name"),
    "backslash-absolute": (lambda: _zip(("\\etc\\evil",)), "unsafe entry name"),
    "backslash-dot-dot": (lambda: _zip(("ok.txt", "a\\..\\..\\evil")), "unsafe entry name"),
    "drive-letter": (lambda: _zip(("C:\\evil",)), "drive letter"),
    "nul-in-name": (lambda: _zip(("evil.txt",)).replace(b"evil.txt", b"ev\0l.txt"), "unsafe entry"),
    "duplicate": (lambda: _zip(("a.txt", "a.txt")), "duplicate entry"),
    "apk-signing-block": (lambda: _apk_block(_zip()), "APK signing block"),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_zip_left_untouched(tmp_path: Path, case: str) -> None:
    make, why = CASES[case]
    content = make()
    assert_left_unsupported("zip", tmp_path / "bad.jar", content, why)


def test_encrypted_entry_left_untouched(tmp_path: Path) -> None:
    needs("zip")
    (tmp_path / "secret.txt").write_text("secret\n")
    path = tmp_path / "enc.zip"
    run(["zip", "-q", "-P", "pw", str(path), "secret.txt"], cwd=tmp_path)
    content = path.read_bytes()
    decision = normalise("zip", path, clamp())
    assert isinstance(decision, Leave) and "encrypted" in decision.why
    assert path.read_bytes() == content
