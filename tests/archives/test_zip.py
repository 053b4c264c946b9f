"""zip family: zip(1), jar(1) and Python's zipfile at two build times end up byte-identical."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    Unseekable,
    central_records,
    clamp,
    inspect,
    needs,
    normalise,
    run,
    zero,
)

from rootnorm.archives import zipextra, zipfmt
from rootnorm.decisions import Rewrite
from rootnorm.handlers.base import Settings

SETTINGS = [(clamp(), (2023, 11, 14, 22, 13, 20)), (zero(), (1980, 1, 1, 0, 0, 0))]
IDS = ["clamp", "ostree"]


def _epoch(build: str) -> int:
    return int(run(["date", "-d", build, "+%s"]))


def _tree(root: Path, build: str, variant: int) -> Path:
    """The same files as two builds leave them: other mtimes, owners and group bits."""
    root.mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    (root / "lib").mkdir()
    (root / "lib" / "data.txt").write_text("data\n" * 200)
    (root / "lib" / "link").symlink_to("data.txt")
    os.chmod(root / "bin" / "tool", 0o775 if variant else 0o755)
    os.chmod(root / "lib" / "data.txt", 0o664 if variant else 0o600)
    stamp = _epoch(build)
    for path in [*root.rglob("*"), root]:
        if os.geteuid() == 0:  # other owners need root; as a user both builds share one
            os.lchown(path, 1000 * variant, 1000 * variant)
        os.utime(path, (stamp, stamp), follow_symlinks=False)
    return root


def _members(path: Path) -> dict[str, tuple[int, bytes]]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {
            info.filename: (info.external_attr >> 16 & 0o170000, archive.read(info))
            for info in archive.infolist()
        }


def _normalise_both(paths: list[Path], settings: Settings, tuple_time: tuple[int, ...]) -> None:
    originals = [_members(path) for path in paths]
    assert paths[0].read_bytes() != paths[1].read_bytes()
    for path, original in zip(paths, originals):
        assert isinstance(normalise("zip", path, settings), Rewrite)
        assert inspect("zip", path, settings) is None, "a second run must change nothing"
        run(["unzip", "-tq", str(path)])
        assert _members(path) == original
        with zipfile.ZipFile(path) as archive:
            assert {info.date_time for info in archive.infolist()} == {tuple_time}
    assert paths[0].read_bytes() == paths[1].read_bytes()


@pytest.mark.parametrize(("settings", "tuple_time"), SETTINGS, ids=IDS)
def test_zip_tool_builds_with_symlinks_and_extra_fields(
    tmp_path: Path, settings: Settings, tuple_time: tuple[int, ...]
) -> None:
    needs("zip", "unzip", "faketime")
    paths = []
    for variant, build in enumerate(BUILD_TIMES):
        tree = _tree(tmp_path / f"tree{variant}", build, variant)
        out = tmp_path / f"b{variant}.zip"
        run(["zip", "-qry", str(out), "bin", "lib"], cwd=tree, faketime=build)
        paths.append(out)
    _normalise_both(paths, settings, tuple_time)
    with zipfile.ZipFile(paths[0]) as archive:
        info = archive.getinfo("lib/link")
        assert stat.S_ISLNK(info.external_attr >> 16)
        assert {info.external_attr >> 16 & 0o7777 for info in archive.infolist()} == {0o644, 0o755}
        assert archive.getinfo("bin/tool").external_attr >> 16 & 0o7777 == 0o755
        extra = archive.getinfo("lib/data.txt").extra
    assert {ident for ident, _ in zipextra.fields(extra)} == {zipextra.UNIX_TIME, 0x7875}
    assert zipextra.unix_mtime(extra) == max(settings.target_seconds(2**31 - 1), zipfmt.ZIP_EPOCH)
    out = tmp_path / "out"
    run(["unzip", "-q", str(paths[0]), "-d", str(out)])
    assert os.readlink(out / "lib" / "link") == "data.txt"


@pytest.mark.slow
@pytest.mark.parametrize(("settings", "tuple_time"), SETTINGS, ids=IDS)
def test_jar_tool_builds(tmp_path: Path, settings: Settings, tuple_time: tuple[int, ...]) -> None:
    needs("jar", "unzip", "faketime")
    paths = []
    for variant, build in enumerate(BUILD_TIMES):
        tree = _tree(tmp_path / f"tree{variant}", build, variant)
        manifest = tmp_path / f"manifest{variant}"
        manifest.write_text(
            f"Built-By: builder{variant}\n"
            f"Bnd-LastModified: {_epoch(build)}000\n"
            "Implementation-Title: a title long enough to need a continuation line, which jar "
            "wraps at 72 bytes\n"
            f"Built-By-Note: kept{variant * 0}\n"
        )
        out = tmp_path / f"b{variant}.jar"
        run(["jar", "cfm", str(out), str(manifest), "-C", str(tree), "."], faketime=build)
        paths.append(out)
    listing = run(["jar", "tf", str(paths[0])])
    for path in paths:
        text = _members(path)["META-INF/MANIFEST.MF"][1]
        assert b"Built-By: builder" in text
    originals = [_members(path) for path in paths]
    for path in paths:
        assert isinstance(normalise("zip", path, settings), Rewrite)
        assert inspect("zip", path, settings) is None
        run(["unzip", "-tq", str(path)])
        assert sorted(run(["jar", "tf", str(path)]).split()) == sorted(listing.split())
    assert paths[0].read_bytes() == paths[1].read_bytes()
    after = _members(paths[0])
    text = after.pop("META-INF/MANIFEST.MF")[1]
    assert b"Built-By:" not in text and b"Bnd-LastModified" not in text
    assert b"Built-By-Note: kept0" in text and b"wraps at 72 bytes" in text
    for original in originals:
        original.pop("META-INF/MANIFEST.MF")
        assert {name: data for name, (_, data) in after.items()} == {
            name: data for name, (_, data) in original.items()
        }
        assert {kind for kind, _ in original.values()} == {0}  # jar: MS-DOS host, no mode
    with zipfile.ZipFile(paths[0]) as archive:
        names = archive.namelist()
        for info in archive.infolist():  # now Unix, 0755 directories, 0644 files
            assert info.create_system == 3
            assert info.external_attr >> 16 == (0o40755 if info.is_dir() else 0o100644)
    assert names[:2] == ["META-INF/", "META-INF/MANIFEST.MF"]
    assert names[2:] == sorted(names[2:])


def _python_zip(path: Path, when: tuple[int, ...], streamed: bool) -> Path:
    sink = io.BytesIO()
    target = Unseekable(sink) if streamed else sink
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for name in ("z/last.txt", "mimetype", "a/first.txt", "m/"):
            info = zipfile.ZipInfo(name, when)
            info.external_attr = (0o40775 if name.endswith("/") else 0o100664) << 16
            info.create_system = 3
            info.comment = b"entry comment" if name == "a/first.txt" else b""
            data = b"application/epub+zip" if name == "mimetype" else name.encode() * 50
            archive.writestr(info, data, zipfile.ZIP_STORED if name == "mimetype" else None)
        archive.comment = b"archive comment"
    path.write_bytes(sink.getvalue())
    return path


@pytest.mark.parametrize("streamed", [False, True], ids=["seekable", "data-descriptors"])
def test_python_zipfile_builds(tmp_path: Path, streamed: bool) -> None:
    paths = [
        _python_zip(tmp_path / "a.zip", (2024, 3, 1, 10, 0, 0), streamed),
        _python_zip(tmp_path / "b.zip", (2025, 7, 15, 18, 31, 6), streamed),
    ]
    _normalise_both(paths, clamp(), SETTINGS[0][1])
    with zipfile.ZipFile(paths[0]) as archive:
        assert archive.namelist() == ["mimetype", "a/first.txt", "m/", "z/last.txt"]
        assert archive.comment == b"archive comment"
        assert archive.getinfo("a/first.txt").comment == b"entry comment"
        assert not any(info.flag_bits & 0x08 for info in archive.infolist())
    assert b"PK\x07\x08" not in paths[0].read_bytes()


def test_order_kept_when_canonical_order_is_off(tmp_path: Path) -> None:
    path = _python_zip(tmp_path / "a.zip", (2024, 3, 1, 10, 0, 0), False)
    normalise("zip", path, clamp(), {"canonical_order": False})
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["z/last.txt", "mimetype", "a/first.txt", "m/"]


def test_already_canonical_archive_is_not_rewritten(tmp_path: Path) -> None:
    path = _python_zip(tmp_path / "a.zip", (2020, 1, 1, 0, 0, 0), False)
    normalise("zip", path, clamp())
    before = path.read_bytes()
    assert inspect("zip", path, clamp()) is None
    assert inspect("zip", path, zero()) is not None
    assert path.read_bytes() == before


def test_zipapp_with_shebang_still_runs(tmp_path: Path) -> None:
    source = tmp_path / "app"
    source.mkdir()
    (source / "__main__.py").write_text("print('zipapp ok')\n")
    (source / "helper.py").write_text("X = 1\n")
    target = tmp_path / "app.pyz"
    run(["python3", "-m", "zipapp", str(source), "-p", "/usr/bin/env python3", "-o", str(target)])
    assert isinstance(normalise("zip", target, zero()), Rewrite)
    assert target.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert inspect("zip", target, zero()) is None
    assert run(["python3", str(target)]) == "zipapp ok\n"
    run(["unzip", "-tq", str(target)])


def _normalised_with_extra(path: Path, options: dict[str, object] | None = None) -> bytes:
    """A canonical archive (two files, a UT time in each local header) as rootnorm leaves it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("b.txt", "a.txt"):
            info = zipfile.ZipInfo(name, (2024, 3, 1, 10, 0, 0))
            info.external_attr = 0o100664 << 16
            info.create_system = 3
            info.extra = struct.pack("<HHBI", zipextra.UNIX_TIME, 5, 1, 1_709_287_200)
            archive.writestr(info, name.encode() * 40)
    assert isinstance(normalise("zip", path, clamp(), options or {}), Rewrite)
    assert inspect("zip", path, clamp(), options or {}) is None
    return path.read_bytes()


def _swap_central_records(data: bytes) -> bytes:
    records = central_records(data)
    start, end = records[0][0], records[-1][1]
    swapped = b"".join(data[a:b] for a, b in reversed(records))
    return data[:start] + swapped + data[end:]


def _one_field_off(data: bytes, case: str) -> bytes:
    entries, cd_start, _, _ = zipfmt._read_entries(io.BytesIO(data), len(data))
    first = entries[0]
    central = cd_start  # the first central record
    edits = {
        "local DOS time": (first.start + 10, b"\x21\x43"),
        "local DOS date": (first.start + 12, b"\x21\x43"),
        "central DOS time": (central + 12, b"\x21\x43"),
        "central DOS date": (central + 14, b"\x21\x43"),
        "local UT time": (first.start + zipfmt.LOCAL.size + len(first.name) + 5, b"\x01\x02"),
        "central UT time": (central + zipfmt.CENTRAL.size + len(first.name) + 5, b"\0\0\0\x7f"),
        "central permissions": (central + 38, struct.pack("<I", 0o100666 << 16)),
        "central descriptor flag": (central + 8, bytes([data[central + 8] | 0x08])),
    }
    if case == "central directory order":
        return _swap_central_records(data)
    offset, new = edits[case]
    assert data[offset : offset + len(new)] != new
    return data[:offset] + new + data[offset + len(new) :]


@pytest.mark.parametrize(
    "case",
    [
        "local DOS time",
        "local DOS date",
        "central DOS time",
        "central DOS date",
        "local UT time",
        "central UT time",
        "central permissions",
        "central descriptor flag",
        "central directory order",
    ],
)
@pytest.mark.parametrize("canonical_order", [True, False], ids=["canonical-order", "kept-order"])
def test_one_header_field_off_is_rewritten(
    tmp_path: Path, case: str, canonical_order: bool
) -> None:
    """The cheap proof that an archive is already canonical misses no field the plan writes."""
    path = tmp_path / "a.zip"
    canonical = _normalised_with_extra(path)
    path.write_bytes(_one_field_off(canonical, case))
    options = {"canonical_order": canonical_order}
    decision = normalise("zip", path, clamp(), options)
    assert isinstance(decision, Rewrite), decision
    if case == "central directory order":  # the report says why, even with the locals in order
        assert ("central directory order" if canonical_order else "entry order") in decision.what
    run(["unzip", "-tq", str(path)])
    assert inspect("zip", path, clamp(), options) is None
    if canonical_order:
        assert path.read_bytes() == canonical


def test_kept_order_is_sorted_when_canonical_order_is_on(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    kept = _normalised_with_extra(path, {"canonical_order": False})
    assert isinstance(normalise("zip", path, clamp()), Rewrite)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["a.txt", "b.txt"]
    assert path.read_bytes() != kept
    assert inspect("zip", path, clamp()) is None


def _clear_central_descriptor_flags(data: bytes) -> bytes:
    out = bytearray(data)
    for start, _ in central_records(data):
        out[start + 8] &= ~0x08
    return bytes(out)


@pytest.mark.parametrize("flagged", ["both", "local only"])
def test_data_descriptors_alone_are_dropped(tmp_path: Path, flagged: str) -> None:
    """A streamed archive canonical in every other way still loses its data descriptors,
    also when only the local headers say they follow."""
    sink = io.BytesIO()
    with zipfile.ZipFile(Unseekable(sink), "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for name in ("a.txt", "b.txt"):
            info = zipfile.ZipInfo(name, SETTINGS[0][1])  # the clamp target already
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            archive.writestr(info, name.encode() * 40)
    path = tmp_path / "a.zip"
    data = sink.getvalue()
    path.write_bytes(_clear_central_descriptor_flags(data) if flagged == "local only" else data)
    assert b"PK\x07\x08" in path.read_bytes()
    decision = normalise("zip", path, clamp())
    assert isinstance(decision, Rewrite)
    assert "data descriptors" in decision.what
    assert b"PK\x07\x08" not in path.read_bytes()
    assert inspect("zip", path, clamp()) is None
