"""zip64: archives from Python's zipfile (force_zip64), `zip -fz`, over 65,535 entries and over
4 GiB are normalised, stay zip64 where the packer or the values want it, and stay valid."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    assert_left_unsupported,
    clamp,
    inspect,
    needs,
    normalise,
    run,
)

from rootnorm.archives import zip64, zipfmt
from rootnorm.archives.plan import Copy, Inflated
from rootnorm.decisions import Rewrite

CLAMPED = (2023, 11, 14, 22, 13, 20)  # archive_helpers.EPOCH as a zip date_time
ZEROS_CRC = 0xD202EF8D  # CRC-32 of 2**32 zero bytes
GIB4 = 1 << 32


def _check_valid(path: Path) -> zipfile.ZipFile:
    """unzip -t, zipinfo and Python's zipfile all read it; the archive is left open."""
    run(["unzip", "-tq", str(path)])
    run(["zipinfo", "-v", str(path)])
    archive = zipfile.ZipFile(path)
    assert archive.testzip() is None
    return archive


def _python_zip64(path: Path, when: tuple[int, ...]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("z/last.txt", "a/first.txt", "m/mid.bin"):
            info = zipfile.ZipInfo(name, when)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as out:
                out.write(name.encode() * 300)
    return path


def _has_local_zip64(data: bytes) -> int:
    """How many local headers carry a zip64 extra field."""
    entries, _, _, _ = zipfmt._read_entries(io.BytesIO(data), len(data))
    return sum(entry.local64 is not None for entry in entries)


def test_python_force_zip64_builds_become_identical(tmp_path: Path) -> None:
    needs("unzip", "zipinfo")
    paths = [_python_zip64(tmp_path / f"b{k}.zip", (2024 + k, 3, 1, 10, 0, 2 * k)) for k in (0, 1)]
    assert paths[0].read_bytes() != paths[1].read_bytes()
    for path in paths:
        assert _has_local_zip64(path.read_bytes()) == 3
        assert isinstance(normalise("zip", path, clamp()), Rewrite)
        assert inspect("zip", path, clamp()) is None
    assert paths[0].read_bytes() == paths[1].read_bytes()
    data = paths[0].read_bytes()
    assert _has_local_zip64(data) == 3  # the packer's choice stays
    with _check_valid(paths[0]) as archive:
        assert archive.namelist() == ["a/first.txt", "m/mid.bin", "z/last.txt"]
        assert {info.date_time for info in archive.infolist()} == {CLAMPED}
        assert archive.read("m/mid.bin") == b"m/mid.bin" * 300


def _zip_fz_tree(root: Path, build: str) -> Path:
    stamp = int(run(["date", "-d", build, "+%s"]))
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "b.txt").write_text("b\n" * 500)
    (root / "pkg" / "a.txt").write_text("a\n" * 500)
    for path in [*root.rglob("*")]:
        os.utime(path, (stamp, stamp))
    return root


@pytest.mark.parametrize("streamed", [False, True], ids=["file", "pipe"])
def test_zip_fz_builds_become_identical(tmp_path: Path, streamed: bool) -> None:
    needs("zip", "unzip", "zipinfo", "faketime")
    paths = []
    for k, build in enumerate(BUILD_TIMES):
        tree = _zip_fz_tree(tmp_path / f"tree{k}", build)
        out = tmp_path / f"b{k}.zip"
        if streamed:  # zip writes to a pipe: data descriptors with 8-byte sizes
            with out.open("wb") as sink:
                zipped = ["faketime", build, "zip", "-q", "-fz", "-r", "-", "pkg"]
                env = {**os.environ, "TZ": "UTC", "NO_FAKE_STAT": "1"}
                subprocess.run(zipped, cwd=tree, env=env, stdout=sink, check=True)
        else:
            run(["zip", "-q", "-fz", "-r", str(out), "pkg"], cwd=tree, faketime=build)
        paths.append(out)
    assert b"PK\x06\x06" in paths[0].read_bytes()
    for path in paths:
        assert isinstance(normalise("zip", path, clamp()), Rewrite)
        assert inspect("zip", path, clamp()) is None
    assert paths[0].read_bytes() == paths[1].read_bytes()
    data = paths[0].read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # zip64 end records kept
    with _check_valid(paths[0]) as archive:
        assert archive.namelist() == ["pkg/", "pkg/a.txt", "pkg/b.txt"]
        assert archive.read("pkg/a.txt") == b"a\n" * 500
        assert not any(info.flag_bits & 0x08 for info in archive.infolist())


def _many(path: Path, when: tuple[int, ...], count: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for k in range(count, 0, -1):  # reverse order: the plan sorts them
            archive.writestr(zipfile.ZipInfo(f"d{k % 97}/f{k}", when), b"%d" % k)
    return path


@pytest.mark.slow
def test_over_65535_entries(tmp_path: Path) -> None:
    needs("unzip", "zipinfo")
    count = 65_600
    paths = [_many(tmp_path / f"b{k}.zip", (2024 + k, 1, 1, 0, 0, 0), count) for k in (0, 1)]
    for path in paths:
        data = path.read_bytes()
        assert struct.unpack_from("<H", data, len(data) - 12)[0] == 0xFFFF  # zip64 counts
        assert isinstance(normalise("zip", path, clamp()), Rewrite)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    run(["unzip", "-tq", str(paths[0])])
    run(["zipinfo", "-t", str(paths[0])])  # -t: totals, not 65,600 lines
    with zipfile.ZipFile(paths[0]) as archive:
        names = archive.namelist()
        assert len(names) == count and names == sorted(names)
        assert archive.read("d1/f1") == b"1"


def _sparse_4gib(path: Path) -> None:
    """Two stored entries, 'big' (2**32 zero bytes, a hole) then 'a.txt' beyond 4 GiB, in a
    zip64 archive as zipfile would write it: sizes and the offset in zip64 fields."""
    big_local = zipfmt.LOCAL.pack(
        b"PK\x03\x04", 45, 0, 0, 0, 0x5821, ZEROS_CRC, 0xFFFFFFFF, 0xFFFFFFFF, 3, 20
    )
    big_local += b"big" + struct.pack("<HHQQ", 1, 16, GIB4, GIB4)
    small = b"hello\n"
    small_crc = zlib.crc32(small)
    small_offset = len(big_local) + GIB4
    small_local = zipfmt.LOCAL.pack(
        b"PK\x03\x04", 20, 0, 0, 0, 0x5821, small_crc, len(small), len(small), 5, 0
    )
    big_central = (
        zipfmt.CENTRAL.pack(
            b"PK\x01\x02",
            0x32D,
            45,
            0,
            0,
            0,
            0x5821,
            ZEROS_CRC,
            0xFFFFFFFF,
            0xFFFFFFFF,
            3,
            20,
            0,
            0,
            0,
            0o100644 << 16,
            0,
        )
        + b"big"
        + struct.pack("<HHQQ", 1, 16, GIB4, GIB4)
    )
    small_central = (
        zipfmt.CENTRAL.pack(
            b"PK\x01\x02",
            0x32D,
            45,
            0,
            0,
            0,
            0x5821,
            small_crc,
            len(small),
            len(small),
            5,
            12,
            0,
            0,
            0,
            0o100644 << 16,
            0xFFFFFFFF,
        )
        + b"a.txt"
        + struct.pack("<HHQ", 1, 8, small_offset)
    )
    cd_offset = small_offset + len(small_local) + 5 + len(small)
    directory = big_central + small_central
    end = zip64.End(45, 45, 2, len(directory), cd_offset, 0)
    tail = zip64.write_end(end, cd_offset + len(directory), 0)
    tail += zipfmt.EOCD.pack(b"PK\x05\x06", 0, 0, 2, 2, len(directory), 0xFFFFFFFF, 0)
    with path.open("wb") as out:
        out.write(big_local)
        out.seek(small_offset)
        out.write(small_local + b"a.txt" + small + directory + tail)


def _write_sparse(plan: zipfmt.Plan, src: Path, dst: Path) -> None:
    """Plan.write, except that the 4 GiB of zeros is left a hole instead of copied."""
    with src.open("rb") as original, dst.open("wb") as out:
        for seg in plan.segments:
            if isinstance(seg, Copy) and seg.length >= GIB4:
                out.seek(seg.length, os.SEEK_CUR)
                continue
            assert not isinstance(seg, Inflated)
            single = zipfmt.Plan()
            single.segments.append(seg)
            single.write(original, out)


@pytest.mark.parametrize("canonical_order", [True, False], ids=["reordered", "kept-order"])
def test_4gib_archive_offsets_and_sizes(tmp_path: Path, canonical_order: bool) -> None:
    """Only the planner and the readers' directory checks run: no 4 GiB copy, no CRC of it."""
    needs("unzip", "zipinfo")
    src = tmp_path / "big.zip"
    _sparse_4gib(src)
    with zipfile.ZipFile(src) as archive:
        assert archive.read("a.txt") == b"hello\n"
    size = src.stat().st_size
    with src.open("rb") as stream:
        opts = zipfmt.Options(canonical_order=canonical_order)
        plan = zipfmt.plan(stream, size, lambda _: 1_700_000_000, opts)
    assert plan is not None
    dst = tmp_path / "out.zip"
    _write_sparse(plan, src, dst)
    with zipfile.ZipFile(dst) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert archive.namelist() == (["a.txt", "big"] if canonical_order else ["big", "a.txt"])
        assert infos["big"].file_size == GIB4 and infos["big"].compress_size == GIB4
        assert archive.read("a.txt") == b"hello\n"
        assert {info.date_time for info in infos.values()} == {CLAMPED}
    listing = run(["unzip", "-l", str(dst)])
    assert "4294967296" in listing and "a.txt" in listing
    run(["zipinfo", str(dst)])
    with dst.open("rb") as stream:  # a second plan is the archive itself
        again = zipfmt.plan(stream, size, lambda _: 1_700_000_000, opts)
        assert again is None or again.same_as(stream, size)


def _force_zip64_bytes() -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        with archive.open(
            zipfile.ZipInfo("a.txt", (2024, 1, 1, 0, 0, 0)), "w", force_zip64=True
        ) as out:
            out.write(b"a" * 100)
        archive.writestr(zipfile.ZipInfo("b.txt", (2024, 1, 1, 0, 0, 0)), b"b")
    return sink.getvalue()


def _with_zip64_end(data: bytes, extensible: bool = False, locator_off: int = 0) -> bytes:
    """`data` (a classic zip) with a zip64 end record and locator added before its end."""
    eocd = len(data) - zipfmt.EOCD.size
    _, _, _, _, count, cd_size, cd_offset, _ = zipfmt.EOCD.unpack_from(data, eocd)
    record = zip64.END.pack(
        b"PK\x06\x06", 44 + (4 if extensible else 0), 45, 45, 0, 0, count, count, cd_size, cd_offset
    ) + (b"\0" * 4 if extensible else b"")
    locator = zip64.LOCATOR.pack(b"PK\x06\x07", 0, eocd + locator_off, 1)
    return data[:eocd] + record + locator + data[eocd:]


HOSTILE = {
    "extensible-data": (lambda: _with_zip64_end(_force_zip64_bytes(), extensible=True), "zip64"),
    "locator-off": (lambda: _with_zip64_end(_force_zip64_bytes(), locator_off=1), "locator"),
    "no-end-record": (
        lambda: _force_zip64_bytes()[:-10] + b"\xff\xff\xff\xff" + _force_zip64_bytes()[-6:],
        "without a zip64 end record",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_bad_zip64_left_untouched(tmp_path: Path, case: str) -> None:
    make, why = HOSTILE[case]
    assert_left_unsupported("zip", tmp_path / "bad.zip", make(), why)


def test_good_zip64_end_record_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.zip"
    path.write_bytes(_with_zip64_end(_force_zip64_bytes()))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
    assert isinstance(normalise("zip", path, clamp()), Rewrite)
    data = path.read_bytes()
    assert b"PK\x06\x06" in data  # kept: the packer wrote one
    with zipfile.ZipFile(path) as archive:
        assert archive.read("a.txt") == b"a" * 100
