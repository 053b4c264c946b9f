"""Zips found by their bytes, whatever their name (`by_content`): EPUB and ODF keep `mimetype`
first and stored, OOXML and jars are sorted, APKs keep their order and alignment, any other
zip keeps its order, and a file that only starts like a zip is left alone, unreported."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    assert_left_unsupported,
    clamp,
    cli,
    inspect,
    needs,
    normalise,
    run,
)

from rootnorm.decisions import Rewrite
from rootnorm.handlers import load
from rootnorm.inventory import walk

ON = {"by_content": True}
EPUBCHECK = "/usr/share/java/epubcheck.jar"
CLAMPED = (2023, 11, 14, 22, 13, 20)
CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""
OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:12345678-1234-4234-8234-123456789abc</dc:identifier>
    <dc:title>rootnorm test</dc:title>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine><itemref idref="ch1"/></spine>
</package>
"""
XHTML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{title}</title></head>
<body>{body}</body>
</html>
"""
NAV = '<nav epub:type="toc"><ol><li><a href="ch1.xhtml">One</a></li></ol></nav>'


def _epub_tree(root: Path, build: str) -> Path:
    stamp = int(run(["date", "-d", build, "+%s"]))
    (root / "META-INF").mkdir(parents=True)
    (root / "OEBPS").mkdir()
    (root / "mimetype").write_text("application/epub+zip")
    (root / "META-INF" / "container.xml").write_text(CONTAINER)
    (root / "OEBPS" / "content.opf").write_text(OPF)
    (root / "OEBPS" / "nav.xhtml").write_text(XHTML.format(title="Contents", body=NAV))
    (root / "OEBPS" / "ch1.xhtml").write_text(XHTML.format(title="One", body="<p>text</p>"))
    for path in [*root.rglob("*"), root]:
        os.utime(path, (stamp, stamp))
    return root


def _zip_epub(tmp_path: Path, k: int, build: str) -> Path:
    """The EPUB recipe with Info-ZIP: mimetype first, stored, no extra field; then the rest."""
    tree = _epub_tree(tmp_path / f"tree{k}", build)
    out = tmp_path / f"book{k}.epub"
    run(["zip", "-q", "-X0", str(out), "mimetype"], cwd=tree, faketime=build)
    # OEBPS before META-INF: a packer's order that the canonical sort changes
    run(["zip", "-q", "-r9", str(out), "OEBPS", "META-INF"], cwd=tree, faketime=build)
    return out


def _check_ocf(data: bytes, mimetype: bytes) -> None:
    """OCF / ODF packaging rules: `mimetype` first, at offset 0, stored, no extra field."""
    sig, _, flags, method, _, _, _, csize, size, name_len, extra_len = struct.unpack_from(
        "<4s5H3I2H", data
    )
    assert sig == b"PK\x03\x04" and method == 0 and extra_len == 0 and not flags & 8
    assert data[30 : 30 + name_len] == b"mimetype"
    assert csize == size == len(mimetype) and data[38 : 38 + size] == mimetype


@pytest.mark.slow
def test_epub_by_zip_tool(tmp_path: Path) -> None:
    needs("zip", "unzip", "faketime")
    books = [_zip_epub(tmp_path, k, build) for k, build in enumerate(BUILD_TIMES)]
    assert books[0].read_bytes() != books[1].read_bytes()
    for book in books:
        assert isinstance(normalise("zip", book, clamp(), ON), Rewrite)
        assert inspect("zip", book, clamp(), ON) is None
    assert books[0].read_bytes() == books[1].read_bytes()
    _check_ocf(books[0].read_bytes(), b"application/epub+zip")
    run(["unzip", "-tq", str(books[0])])
    with zipfile.ZipFile(books[0]) as archive:
        names = archive.namelist()
        assert {info.date_time for info in archive.infolist()} == {CLAMPED}
    assert names[:3] == ["mimetype", "META-INF/", "META-INF/container.xml"]
    if os.path.exists(EPUBCHECK):
        run(["java", "-jar", EPUBCHECK, str(books[0])])
    elif os.environ.get("CI"):
        pytest.fail("CI must provide epubcheck")


def _odt(path: Path, when: tuple[int, ...]) -> Path:
    """An ODF text document by hand, to the ODF 1.2 packaging rules."""
    mimetype = "application/vnd.oasis.opendocument.text"
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">\n'
        f' <manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>\n'
        ' <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>\n'
        "</manifest:manifest>\n"
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content xmlns:office='
        '"urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2">'
        "<office:body><office:text/></office:body></office:document-content>\n"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype", when), mimetype, zipfile.ZIP_STORED)
        for name, text in (("content.xml", content), ("META-INF/manifest.xml", manifest)):
            archive.writestr(zipfile.ZipInfo(name, when), text, zipfile.ZIP_DEFLATED)
    return path


def test_odt_by_hand(tmp_path: Path) -> None:
    docs = [_odt(tmp_path / f"d{k}.odt", (2024 + k, 5, 1, 0, 0, 0)) for k in (0, 1)]
    for doc in docs:
        assert isinstance(normalise("zip", doc, clamp(), ON), Rewrite)
    assert docs[0].read_bytes() == docs[1].read_bytes()
    _check_ocf(docs[0].read_bytes(), b"application/vnd.oasis.opendocument.text")
    with zipfile.ZipFile(docs[0]) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["mimetype", "META-INF/manifest.xml", "content.xml"]


def _plain(path: Path, when: tuple[int, ...], force_zip64: bool = False) -> Path:
    """A zip whose format rootnorm does not know (an OME-Zarr .ozx as its packer writes it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.comment = b'{"ome": {"version": "0.5"}}'
        for name in ("zarr.json", "0/zarr.json", "0/c/0/0", "a/zarr.json"):
            with archive.open(zipfile.ZipInfo(name, when), "w", force_zip64=force_zip64) as out:
                out.write(name.encode() * 10)
    return path


def test_unknown_format_keeps_its_order(tmp_path: Path) -> None:
    images = [_plain(tmp_path / f"i{k}.ozx", (2024 + k, 1, 1, 0, 0, 0), True) for k in (0, 1)]
    for image in images:
        assert isinstance(normalise("zip", image, clamp(), ON), Rewrite)
        assert inspect("zip", image, clamp(), ON) is None
    assert images[0].read_bytes() == images[1].read_bytes()
    with zipfile.ZipFile(images[0]) as archive:
        assert archive.namelist() == ["zarr.json", "0/zarr.json", "0/c/0/0", "a/zarr.json"]
        assert archive.comment == b'{"ome": {"version": "0.5"}}'
        assert {info.date_time for info in archive.infolist()} == {CLAMPED}
        assert archive.testzip() is None


def test_off_by_default(tmp_path: Path) -> None:
    _plain(tmp_path / "i.ozx", (2024, 1, 1, 0, 0, 0))
    (tmp_path / "x.py").write_text("print()\n" * 20)
    inventory = walk(str(tmp_path))
    image = inventory.entries[inventory.by_rel[b"i.ozx"]]
    source = inventory.entries[inventory.by_rel[b"x.py"]]
    off, on = load("zip")(clamp(), {}), load("zip")(clamp(), ON)
    assert off.name_keys() is not None and not off.wants(image)  # only names looked at
    assert on.name_keys() is None and on.wants(image)
    assert not on.wants(source)  # a name that is never a zip: not even opened


def _aligned_apk(path: Path, built_by: bool) -> Path:
    """Stored entries with their data 4-byte aligned (padding in the local extra field, as
    zipalign does), by name `.apk`, unsigned; `built_by` puts a manifest line first that a
    rewrite drops, which shifts every entry after it by 14 bytes."""
    sink = io.BytesIO()
    manifest = b"Manifest-Version: 1.0\r\n" + (b"Built-By: me\r\n" if built_by else b"")
    with zipfile.ZipFile(sink, "w") as archive:
        names = ("META-INF/MANIFEST.MF", "AndroidManifest.xml", "resources.arsc", "classes.dex")
        for name in names:  # not in the canonical order: a sort would move classes.dex up
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            pad = (-(sink.tell() + 30 + len(name))) % 4
            info.extra = b"\0" * pad
            archive.writestr(info, manifest if name.startswith("META") else name.encode() * 7)
    data = sink.getvalue()
    path.write_bytes(data)
    return path


def test_apk_keeps_order_and_alignment(tmp_path: Path) -> None:
    path = _aligned_apk(tmp_path / "app.apk", built_by=False)
    assert isinstance(normalise("zip", path, clamp()), Rewrite)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos][1:] == [
            "AndroidManifest.xml",
            "resources.arsc",
            "classes.dex",
        ]
        for info in infos:
            data = info.header_offset + 30 + len(info.filename) + len(info.extra)
            assert data % 4 == 0
    if os.path.exists("/usr/bin/zipalign"):
        run(["zipalign", "-c", "4", str(path)])
    elif os.environ.get("CI"):
        pytest.fail("CI must provide zipalign")


def test_apk_whose_alignment_would_break_is_left(tmp_path: Path) -> None:
    content = _aligned_apk(tmp_path / "made.apk", built_by=True).read_bytes()
    assert_left_unsupported("zip", tmp_path / "bad.apk", content, "4-byte alignment")


def test_file_that_only_starts_like_a_zip_is_not_reported(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    assert inspect("zip", path, clamp(), ON) is None


def test_cli_generic_finds_zips_by_content(tmp_path: Path) -> None:
    needs("zip", "faketime")
    root = tmp_path / "root"
    (root / "usr/share/doc").mkdir(parents=True)
    book = _zip_epub(tmp_path, 0, BUILD_TIMES[0])
    book.rename(root / "usr/share/doc/book.epub")
    _plain(root / "usr/share/doc/data", (2024, 1, 1, 0, 0, 0))  # no extension at all
    (root / "usr/share/doc/notzip").write_bytes(b"PK\x03\x04 but no end record" * 3)
    done = cli("--profile", "generic", "--source-date-epoch", "1700000000", "-v", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    changed = [line for line in done.stdout.splitlines() if "[zip]" in line]
    assert len(changed) == 2, done.stdout
    assert "book.epub" in changed[0] + changed[1] and "/data" in changed[0] + changed[1]
    again = cli("--check", "--profile", "generic", "--source-date-epoch", "1700000000", str(root))
    assert again.returncode == 0, again.stdout


@pytest.mark.parametrize(
    "names",
    [
        ("word/document.xml", "[Content_Types].xml", "_rels/.rels"),  # OOXML (.docx)
        ("org/a/Main.class", "META-INF/MANIFEST.MF"),  # a jar by another name (.hpi, .nbm)
    ],
    ids=["ooxml", "jar"],
)
def test_known_formats_found_by_content_are_sorted(tmp_path: Path, names: tuple[str, ...]) -> None:
    path = tmp_path / "document.bin"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), name * 3)
    assert isinstance(normalise("zip", path, clamp(), ON), Rewrite)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        listed = archive.namelist()
    assert listed == sorted(names, key=lambda n: (n != "META-INF/MANIFEST.MF", n))
