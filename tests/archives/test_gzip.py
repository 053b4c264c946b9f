"""gzip: real gzip(1) and Python's gzip at two build times end up byte-identical and valid."""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    EPOCH,
    assert_left_unsupported,
    clamp,
    inspect,
    needs,
    normalise,
    run,
    zero,
)

from rootnorm.archives import gzipfmt
from rootnorm.decisions import Leave, Rewrite
from rootnorm.handlers.base import Settings

PAYLOAD = b"reproducible builds\n" * 500


def _gzip_tool(tmp: Path, build: str) -> Path:
    """gzip(1) as a build would run it: keeps the input's name and mtime."""
    tmp.mkdir()
    source = tmp / "page.1"
    source.write_bytes(PAYLOAD)
    stamp = int(run(["date", "-d", build, "+%s"]))
    os.utime(source, (stamp, stamp))
    run(["gzip", "-9", str(source)])
    return tmp / "page.1.gz"


def _python_gzip(path: Path, mtime: int, name: str) -> Path:
    with path.open("wb") as raw, gzip.GzipFile(name, "wb", 9, raw, mtime=mtime) as out:
        out.write(PAYLOAD)
    return path


@pytest.mark.parametrize(
    ("settings", "expected"), [(clamp(), EPOCH), (zero(), 0)], ids=["clamp", "ostree"]
)
def test_gzip_tool_builds_become_identical(
    tmp_path: Path, settings: Settings, expected: int
) -> None:
    needs("gzip", "faketime")
    first, second = (_gzip_tool(tmp_path / f"b{i}", build) for i, build in enumerate(BUILD_TIMES))
    assert first.read_bytes() != second.read_bytes()
    for path in (first, second):
        assert isinstance(normalise("gzip", path, settings), Rewrite)
        assert inspect("gzip", path, settings) is None
        run(["gzip", "-t", str(path)])
        assert run(["gzip", "-dc", str(path)]).encode() == PAYLOAD
        assert gzip.decompress(path.read_bytes()) == PAYLOAD
        assert b"page.1" not in path.read_bytes()[:64]
    assert first.read_bytes() == second.read_bytes()
    assert struct.unpack_from("<I", first.read_bytes(), 4)[0] == expected


def test_python_gzip_builds_become_identical(tmp_path: Path) -> None:
    first = _python_gzip(tmp_path / "a.gz", 1_800_000_000, "a")
    second = _python_gzip(tmp_path / "b.gz", 1_900_000_000, "b")
    for path in (first, second):
        normalise("gzip", path, clamp())
    assert first.read_bytes() == second.read_bytes()


def test_older_mtime_kept_and_zero_stays_zero_under_clamp(tmp_path: Path) -> None:
    older = _python_gzip(tmp_path / "old.gz", EPOCH - 100, "")
    assert inspect("gzip", older, clamp()) is None
    unset = _python_gzip(tmp_path / "unset.gz", 0, "")
    assert inspect("gzip", unset, clamp()) is None


def _member(data: bytes, mtime: int, flags: int, fields: bytes) -> bytes:
    engine = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = engine.compress(data) + engine.flush()
    header = struct.pack("<2sBBIBB", b"\x1f\x8b", 8, flags, mtime, 2, 3) + fields
    return header + body + struct.pack("<II", zlib.crc32(data), len(data))


def test_every_member_extra_and_comment_kept_fname_fhcrc_dropped() -> None:
    extra = struct.pack("<H", 6) + b"AB\x02\x00hi"
    flags = gzipfmt.FEXTRA | gzipfmt.FNAME | gzipfmt.FCOMMENT | gzipfmt.FHCRC
    first = _member(b"one\n", 1_800_000_000, flags, extra + b"name\0note\0" + b"\x12\x34")
    second = _member(b"two\n", 1_800_000_001, gzipfmt.FNAME, b"other\0")
    blob = first + second + bytes(512)  # zero padding after the last member is kept
    plan = gzipfmt.plan(io.BytesIO(blob), len(blob), clamp().target_seconds)
    assert plan is not None
    out = io.BytesIO()
    plan.write(io.BytesIO(blob), out)
    result = out.getvalue()
    assert gzip.decompress(result[:-512]) == b"one\ntwo\n"
    want_first = _member(b"one\n", EPOCH, gzipfmt.FEXTRA | gzipfmt.FCOMMENT, extra + b"note\0")
    want_second = _member(b"two\n", EPOCH, 0, b"")
    assert result == want_first + want_second + bytes(512)
    assert plan.describe("gzip") == "gzip: MTIME, file name dropped, header CRC dropped"


def test_settled_file_is_not_inflated_but_a_later_member_is_still_fixed(tmp_path: Path) -> None:
    # Proof that the cheap path was taken: a corrupt body behind a header needing nothing is
    # left alone without a word (inflating it would say "corrupt"), ...
    corrupt = _member(PAYLOAD, 0, 0, b"")
    corrupt = corrupt[:10] + b"\xff" * 40 + corrupt[50:]
    path = tmp_path / "settled.gz"
    path.write_bytes(corrupt)
    assert inspect("gzip", path, zero()) is None
    # ... while the same file with a header to change is inflated and refused.
    path.write_bytes(_member(PAYLOAD, 1_800_000_000, 0, b"")[:10] + corrupt[10:])
    assert isinstance(normalise("gzip", path, zero()), Leave)
    # A second member is seen even when the first needs nothing.
    two = _member(b"one\n", 0, 0, b"") + _member(b"two\n", 1_800_000_000, 0, b"")
    path.write_bytes(two)
    assert isinstance(normalise("gzip", path, zero()), Rewrite)
    assert path.read_bytes() == _member(b"one\n", 0, 0, b"") + _member(b"two\n", 0, 0, b"")
    assert gzip.decompress(path.read_bytes()) == b"one\ntwo\n"


def test_member_magic_inside_data_takes_the_full_path(tmp_path: Path) -> None:
    stored = b"\x01" + struct.pack("<HH", 3, 0xFFFC) + gzipfmt.MEMBER_START  # a stored block
    crc = struct.pack("<II", zlib.crc32(gzipfmt.MEMBER_START), 3)
    path = tmp_path / "magic-inside.gz"
    path.write_bytes(struct.pack("<2sBBIBB", b"\x1f\x8b", 8, 0, 0, 0, 3) + stored + crc)
    assert gzip.decompress(path.read_bytes()) == gzipfmt.MEMBER_START
    assert inspect("gzip", path, zero()) is None  # planned in full: one valid member, unchanged
    path.write_bytes(path.read_bytes() + b"junk")
    decision = inspect("gzip", path, zero())
    assert isinstance(decision, Leave)
    assert "trailing data" in decision.why


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "truncated"),
        (_member(PAYLOAD, 1_800_000_000, 0, b"")[:-20], "truncated"),
        (_member(PAYLOAD, 1_800_000_000, 0, b"")[:-4] + b"\0\0\0\0", "does not match"),
        (_member(b"x", 1_800_000_000, 0, b"") + b"garbage", "trailing data"),
        (b"\x1f\x8b\x09" + bytes(20), "not deflate"),
        (b"\x1f\x8b\x08\xe0" + bytes(20), "reserved"),
        (b"\x1f\x8b\x08\x08" + bytes(6) + b"endless name without a NUL", "header string"),
    ],
    ids=["empty", "truncated", "bad-length", "garbage", "method", "flags", "name"],
)
def test_hostile_left_untouched(tmp_path: Path, content: bytes, why: str) -> None:
    assert_left_unsupported("gzip", tmp_path / "bad.gz", content, why)


def test_wants_by_suffix_option() -> None:
    from rootnorm.handlers.gzip import GzipHandler

    handler = GzipHandler(clamp(), {"suffixes": (".GZ", ".svgz")})
    names = [b"a.gz", b"b.SVGZ", b"c.tgz", b"d.gzip"]

    class Fake:
        is_dir = False

        def __init__(self, name: bytes) -> None:
            self.name = name

    assert [handler.wants(Fake(n)) for n in names] == [True, True, False, False]  # type: ignore[arg-type]
