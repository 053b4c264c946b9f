"""PNG: ImageMagick's and hand-made images built at two times end up byte-identical, valid
for pngcheck and decoding to the same pixels."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tracemalloc
import zlib
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    assert_left_unsupported,
    clamp,
    inspect,
    normalise,
    required,
    run,
    zero,
)
from testlib import unavailable

from rootnorm.archives.plan import Unsupported
from rootnorm.decisions import Rewrite
from rootnorm.formats import pngfmt
from rootnorm.handlers.base import Settings

CONVERT = "/usr/bin/convert"  # ImageMagick's; /usr/local/bin may hold a stand-in
EPOCH_ISO = b"2023-11-14T22:13:20+00:00"


def _convert(*args: str, faketime: str | None = None) -> str:
    if not os.path.exists(CONVERT):
        unavailable("ImageMagick's convert (Debian imagemagick)")
    return run([CONVERT, *args], faketime=faketime)


def _pixels(path: Path) -> bytes:
    """The decoded image, by ImageMagick (a real PNG reader), as raw RGBA."""
    if not os.path.exists(CONVERT):
        unavailable("ImageMagick's convert (Debian imagemagick)")
    return subprocess.run([CONVERT, str(path), "rgba:-"], capture_output=True, check=True).stdout


def _pngcheck(path: Path) -> str:
    required("pngcheck")
    return run(["pngcheck", "-vt", str(path)])


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _imagemagick(tmp: Path, build: str) -> Path:
    tmp.mkdir()
    out = tmp / "icon.png"
    _convert("-size", "64x48", "gradient:red-blue", str(out), faketime=build)
    stamp = int(run(["date", "-d", build, "+%s"]))
    os.utime(out, (stamp, stamp))
    return out


@pytest.mark.parametrize(
    ("settings", "tIME"),
    [(clamp(), b"\x07\xe7\x0b\x0e\x16\x0d\x14"), (zero(), None)],
    ids=["clamp", "ostree"],
)
def test_imagemagick_builds_become_identical(
    tmp_path: Path, settings: Settings, tIME: bytes | None
) -> None:
    required("faketime")
    first, second = (_imagemagick(tmp_path / f"b{i}", b) for i, b in enumerate(BUILD_TIMES))
    assert first.read_bytes() != second.read_bytes()
    pixels = _pixels(first)
    for path in (first, second):
        kinds = [kind for kind, _ in _chunks(path.read_bytes())]
        assert b"tIME" in kinds and b"tEXt" in kinds  # what this ImageMagick writes
        decision = normalise("png", path, settings)
        assert isinstance(decision, Rewrite), decision
        assert inspect("png", path, settings) is None
        assert "No errors detected" in _pngcheck(path)
        assert _pixels(path) == pixels
        chunks = dict(_chunks(path.read_bytes()))
        assert chunks.get(b"tIME") == tIME
        expected = EPOCH_ISO if tIME else b"1970-01-01T00:00:00+00:00"
        assert chunks[b"tEXt"].split(b"\0")[1] == expected
    assert first.read_bytes() == second.read_bytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _image(*extra: bytes, idat_parts: int = 3, after: tuple[bytes, ...] = ()) -> bytes:
    """A 32x32 RGB image by hand: IHDR, the extra chunks, IDAT in parts, `after`, IEND."""
    raw = b"".join(
        b"\0" + b"".join(bytes((x * 8, y * 8, 128)) for x in range(32)) for y in range(32)
    )
    packed = zlib.compress(raw, 9)
    step = -(-len(packed) // idat_parts)
    idats = [_chunk(b"IDAT", packed[i : i + step]) for i in range(0, len(packed), step)]
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0))
    return (
        pngfmt.SIGNATURE
        + ihdr
        + b"".join(extra)
        + b"".join(idats)
        + b"".join(after)
        + _chunk(b"IEND", b"")
    )


def _itxt(keyword: bytes, text: bytes, compressed: bool) -> bytes:
    body = zlib.compress(text) if compressed else text
    return _chunk(b"iTXt", keyword + b"\0" + bytes((compressed, 0)) + b"en\0" + b"Zeit\0" + body)


BUILD_ISO = b"2025-07-15T20:31:07+02:00"
BUILD_RFC = b"Tue, 15 Jul 2025 18:31:07 +0000"
TIME_2025 = struct.pack(">HBBBBB", 2025, 7, 15, 18, 31, 7)


def _dated(iso: bytes = BUILD_ISO, rfc: bytes = BUILD_RFC, when: bytes = TIME_2025) -> bytes:
    return _image(
        _chunk(b"tIME", when),
        _chunk(b"tEXt", b"date:create\0" + iso),
        _chunk(b"zTXt", b"date:modify\0\0" + zlib.compress(iso, 1)),
        _itxt(b"date:timestamp", iso, compressed=True),
        _itxt(b"Creation Time", rfc, compressed=False),
        _chunk(b"tEXt", b"Comment\0made on " + iso),
        _chunk(b"zTXt", b"Software\0\0" + zlib.compress(b"by hand")),
        after=(_chunk(b"tEXt", b"date:late\0" + iso),),
    )


def test_every_text_kind_set_other_chunks_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "hand.png"
    original = _dated()
    path.write_bytes(original)
    decision = normalise("png", path, clamp())
    assert isinstance(decision, Rewrite)
    assert decision.what == (
        "png: iTXt Creation Time, iTXt date:timestamp, tEXt date:create, tEXt date:late, "
        "tIME, zTXt date:modify"
    )
    epoch_rfc = b"Tue, 14 Nov 2023 22:13:20 GMT"
    expected = _image(
        _chunk(b"tIME", struct.pack(">HBBBBB", 2023, 11, 14, 22, 13, 20)),
        _chunk(b"tEXt", b"date:create\0" + EPOCH_ISO),
        _chunk(b"zTXt", b"date:modify\0\0" + zlib.compress(EPOCH_ISO, 9)),
        _chunk(b"iTXt", b"date:timestamp\0\x01\0en\0Zeit\0" + zlib.compress(EPOCH_ISO, 9)),
        _itxt(b"Creation Time", epoch_rfc, compressed=False),
        _chunk(b"tEXt", b"Comment\0made on " + BUILD_ISO),
        _chunk(b"zTXt", b"Software\0\0" + zlib.compress(b"by hand")),
        after=(_chunk(b"tEXt", b"date:late\0" + EPOCH_ISO),),
    )
    assert path.read_bytes() == expected
    assert "No errors detected" in _pngcheck(path)
    assert _pixels(path) == _pixels_of(tmp_path, original)
    assert inspect("png", path, clamp()) is None


def _pixels_of(tmp: Path, data: bytes) -> bytes:
    path = tmp / "reference.png"
    path.write_bytes(data)
    return _pixels(path)


def test_older_times_kept_under_clamp_and_non_dates_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.png"
    old = struct.pack(">HBBBBB", 2020, 2, 29, 12, 0, 60)  # a leap second, valid in PNG
    path.write_bytes(_dated(b"2020-02-29T12:00:00Z", b"Sat, 29 Feb 2020 12:00:00 +0000", old))
    assert inspect("png", path, clamp()) is None
    path.write_bytes(_image(_chunk(b"tEXt", b"date:create\0yesterday, roughly")))
    assert inspect("png", path, zero()) is None
    path.write_bytes(_image())
    assert inspect("png", path, zero()) is None


def test_tIME_set_not_removed_when_the_target_is_after_1995(tmp_path: Path) -> None:
    from rootnorm.clock import Clock, Policy

    path = tmp_path / "set.png"
    path.write_bytes(_dated())
    settings = Settings(Clock(Policy.SET, 1_000_000_000), True, 1_000_000_000)
    normalise("png", path, settings)
    assert dict(_chunks(path.read_bytes()))[b"tIME"] == struct.pack(
        ">HBBBBB", 2001, 9, 9, 1, 46, 40
    )
    settings = Settings(Clock(Policy.SET, 700_000_000), True, 700_000_000)
    normalise("png", path, settings)
    assert b"tIME" not in dict(_chunks(path.read_bytes()))
    assert "No errors detected" in _pngcheck(path)


GOOD = _dated()
IDAT_AT = GOOD.index(b"IDAT") - 4


def _bomb() -> bytes:
    return _chunk(
        b"zTXt", b"date:create\0\0" + zlib.compress(b"2025-07-15T20:31:07Z" + bytes(1 << 20))
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "no PNG signature"),
        (b"GIF89a, named like a PNG\n", "no PNG signature"),
        (GOOD[:100], "truncated"),
        (GOOD[: -12], "no IEND"),
        (GOOD[:IDAT_AT + 10] + bytes([GOOD[IDAT_AT + 10] ^ 1]) + GOOD[IDAT_AT + 11 :], "wrong CRC"),
        (GOOD[:8] + b"\xff\xff\xff\xff" + GOOD[12:], "over 2^31-1"),
        (GOOD[:8] + b"\0\0\0\x0dIH\0R" + GOOD[16:], "not four letters"),
        (pngfmt.SIGNATURE + _chunk(b"tIME", TIME_2025) + GOOD[8:], "not IHDR"),
        (GOOD + b"trailing", "after the IEND"),
        (_image(_chunk(b"tIME", TIME_2025 + b"\0")), "not 7"),
        (_image(_chunk(b"tIME", struct.pack(">HBBBBB", 2025, 2, 30, 0, 0, 0))), "no valid time"),
        (_image(_chunk(b"tIME", struct.pack(">HBBBBB", 23529, 7, 15, 0, 0, 0))), "no valid time"),
        (_image(_chunk(b"zTXt", b"date:create\0\0not zlib")), "corrupt compressed text"),
        (_image(_bomb()), "cut short or over"),
        (_image(_chunk(b"zTXt", b"date:create\0\x07" + zlib.compress(BUILD_ISO))), "method"),
        (_image(_chunk(b"iTXt", b"date:create\0\x01\0no-nuls")), "malformed"),
        (_image(_chunk(b"tEXt", b"date:create\0" + bytes(70_000))), "bytes at offset"),
    ],
    ids=[
        "empty", "gif", "truncated", "no-iend", "crc", "length", "type", "first", "trailing",
        "time-length", "time-invalid", "year-23529", "zlib", "bomb", "method", "itxt", "huge-text",
    ],
)  # fmt: skip
def test_hostile_left_untouched(tmp_path: Path, content: bytes, why: str) -> None:
    assert_left_unsupported("png", tmp_path / "bad.png", content, why)


def test_large_image_streams_with_bounded_memory(tmp_path: Path) -> None:
    """A 64 MiB IDAT behind a tIME: planned and written through real files with a few MiB."""
    path = tmp_path / "big.png"
    body = bytes(1 << 20)
    with path.open("wb") as f:
        f.write(GOOD[:IDAT_AT])
        f.write(struct.pack(">I", 64 << 20) + b"IDAT")
        crc = zlib.crc32(b"IDAT")
        for _ in range(64):
            f.write(body)
            crc = zlib.crc32(body, crc)
        f.write(struct.pack(">I", crc))
        f.write(_chunk(b"IEND", b""))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as src:
            plan = pngfmt.plan(src, size, clamp().target_seconds)
            assert plan is not None
            with (tmp_path / "out.png").open("wb") as dst:
                plan.write(src, dst)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak
    with path.open("rb") as before, (tmp_path / "out.png").open("rb") as after:
        old, new = before.read(8192), after.read(8192)
        assert b"2023-11-14" in new and b"2023-11-14" not in old
        before.seek(old.index(b"IDAT"))
        after.seek(new.index(b"IDAT"))
        while True:  # the rest, the large IDAT and IEND, copied byte for byte
            block = before.read(1 << 20)
            assert after.read(1 << 20) == block
            if not block:
                break


def test_pure_planner_on_bytes() -> None:
    """The entry point a fuzz target calls: bytes in, a plan, None or Unsupported out."""
    out = io.BytesIO()
    plan = pngfmt.plan(io.BytesIO(GOOD), len(GOOD), zero().target_seconds)
    assert plan is not None
    plan.write(io.BytesIO(GOOD), out)
    assert b"tIME" not in out.getvalue()
    with pytest.raises(Unsupported):
        pngfmt.plan(io.BytesIO(GOOD[:50]), 50, zero().target_seconds)
