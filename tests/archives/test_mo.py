"""gettext catalogues: msgfmt output built at two times ends up byte-identical and readable."""

from __future__ import annotations

import gettext
import io
import struct
from pathlib import Path

import pytest
from archive_helpers import (
    BUILD_TIMES,
    EPOCH,
    assert_left_unsupported,
    clamp,
    inspect,
    normalise,
    required,
    run,
    zero,
)

from rootnorm.decisions import Patch, Rewrite
from rootnorm.formats import mofmt
from rootnorm.handlers.base import Settings

EPOCH_TEXT = "2023-11-14 22:13+0000"  # EPOCH as gettext writes it
ZERO_TEXT = "1970-01-01 00:00+0000"
BODY = """
msgid "Hello"
msgstr "Hallo"

#, c-format
msgid "%d file"
msgid_plural "%d files"
msgstr[0] "%d Datei"
msgstr[1] "%d Dateien"

msgctxt "menu"
msgid "Open"
msgstr "Öffnen"

#, c-format
msgid "%<PRIu64> bytes"
msgstr "%<PRIu64> Bytes"

#, c-format
msgid "%d seconds"
msgstr "%Id Sekunden"
"""


def _po(pot: str, revision: str) -> str:
    return (
        'msgid ""\nmsgstr ""\n'
        '"Project-Id-Version: demo 1.0\\n"\n'
        f'"POT-Creation-Date: {pot}\\n"\n'
        f'"PO-Revision-Date: {revision}\\n"\n'
        '"Last-Translator: A <a@example.org>\\n"\n'
        '"Language: de\\n"\n'
        '"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n' + BODY
    )


def _msgfmt(tmp: Path, build: str, endianness: str) -> Path:
    """A catalogue as a build makes it: the PO's dates are the build's (xgettext, msgmerge)."""
    tmp.mkdir()
    stamp = run(["date", "-d", build, "+%Y-%m-%d %H:%M%z"]).strip()
    (tmp / "de.po").write_text(_po(stamp, stamp), encoding="utf-8")
    out = tmp / "demo.mo"
    run(["msgfmt", f"--endianness={endianness}", "-o", str(out), "de.po"], tmp, faketime=build)
    return out


def _header_of(path: Path, full: bool = False) -> dict[str, str]:
    """The header Python's gettext reads, after checking it still finds the translations."""
    with path.open("rb") as f:
        catalogue = gettext.GNUTranslations(f)
    assert catalogue.gettext("Hello") == "Hallo"
    if full:
        assert catalogue.ngettext("%d file", "%d files", 2) == "%d Dateien"
        assert catalogue.pgettext("menu", "Open") == "Öffnen"
    return catalogue.info()


@pytest.mark.parametrize("endianness", ["little", "big"])
@pytest.mark.parametrize(
    ("settings", "expected"), [(clamp(), EPOCH_TEXT), (zero(), ZERO_TEXT)], ids=["clamp", "ostree"]
)
def test_msgfmt_builds_become_identical(
    tmp_path: Path, settings: Settings, expected: str, endianness: str
) -> None:
    required("msgfmt", "msgunfmt", "faketime")
    first, second = (
        _msgfmt(tmp_path / f"b{i}", build, endianness) for i, build in enumerate(BUILD_TIMES)
    )
    assert first.read_bytes() != second.read_bytes()
    for path in (first, second):
        before = path.read_bytes()
        decision = normalise("mo", path, settings)
        assert isinstance(decision, Patch), decision  # one date: 21 bytes written in place
        assert len(decision.data) == len(expected)
        assert decision.what == "mo: PO-Revision-Date"  # msgfmt drops POT-Creation-Date
        assert inspect("mo", path, settings) is None
        after = path.read_bytes()
        assert len(after) == len(before)
        revision = struct.unpack_from("<I" if endianness == "little" else ">I", after, 4)[0]
        assert revision == 0x10001  # system-dependent strings, one with %I (locale digits)
        back = run(["msgunfmt", str(path)])  # Python's gettext skips system-dependent strings
        assert f'"PO-Revision-Date: {expected}\\n"' in back
        assert 'msgstr "%Id Sekunden"' in back and 'msgstr "%<PRIu64> Bytes"' in back
        assert _header_of(path, full=True)["po-revision-date"] == expected
        run(["msgfmt", "--check-format", "-o", "/dev/null", "-"], path.parent)
    assert first.read_bytes() == second.read_bytes()


def _mo(header: bytes, order: str = "<", sysdep: tuple[int, ...] = ()) -> bytes:
    """A catalogue laid out the way msgfmt lays it out (tables, then originals, then
    translations), here without a hash table; the header entry plus one message. `sysdep`:
    the five words of revision 0.1 (system-dependent strings)."""
    messages = sorted({b"": header, b"Hello": b"Hallo"}.items())
    first = 28 + 4 * len(sysdep)
    table = first + 16 * len(messages)
    originals = b"".join(key + b"\0" for key, _ in messages)
    strings = originals + b"".join(value + b"\0" for _, value in messages)
    descriptors = []
    at = table
    for text in [key for key, _ in messages] + [value for _, value in messages]:
        descriptors.append(struct.pack(f"{order}2I", len(text), at))
        at += len(text) + 1
    half = len(messages)
    revision = 1 if sysdep else 0
    head = struct.pack(f"{order}7I", 0x950412DE, revision, half, first, first + 8 * half, 0, table)
    head += struct.pack(f"{order}{len(sysdep)}I", *sysdep)
    return head + b"".join(descriptors) + strings


HEADER = (
    b"Project-Id-Version: demo 1.0\n"
    b"POT-Creation-Date: 2026-12-07 11:22:33+0100\n"
    b"PO-Revision-Date: 2026-12-07 11:23+0000\n"
    b"X-Generator: Poedit 3.4\n"
    b"Content-Type: text/plain; charset=UTF-8\n"
)


@pytest.mark.parametrize("order", ["<", ">"])
def test_both_dates_in_their_own_shape_other_headers_kept(tmp_path: Path, order: str) -> None:
    path = tmp_path / "demo.gmo"
    path.write_bytes(_mo(HEADER, order))
    assert _header_of(path)["pot-creation-date"] == "2026-12-07 11:22:33+0100"
    decision = normalise("mo", path, clamp())
    assert isinstance(decision, Patch)  # adjacent lines: one write from the first date's start
    assert decision.data.startswith(b"2023-11-14 22:13:20+0000\nPO-Revision-Date: ")
    assert decision.what == "mo: PO-Revision-Date, POT-Creation-Date"
    want = HEADER.replace(b"2026-12-07 11:22:33+0100", b"2023-11-14 22:13:20+0000")
    want = want.replace(b"2026-12-07 11:23+0000", EPOCH_TEXT.encode())
    assert path.read_bytes() == _mo(want, order)
    assert _header_of(path)["x-generator"] == "Poedit 3.4"
    required("msgunfmt")
    assert "POT-Creation-Date: 2023-11-14 22:13:20+0000" in run(["msgunfmt", str(path)])


def test_a_date_keeps_its_separators(tmp_path: Path) -> None:
    path = tmp_path / "shape.mo"
    path.write_bytes(_mo(b"PO-Revision-Date: 2026-12-07T11:23 +01:00\n"))
    assert isinstance(normalise("mo", path, clamp()), Patch)
    assert path.read_bytes() == _mo(b"PO-Revision-Date: 2023-11-14T22:13 +00:00\n")


def test_dates_far_apart_rewrite_the_file(tmp_path: Path) -> None:
    header = HEADER.replace(b"PO-Revision-Date", b"X-Note: " + b"n" * 80 + b"\nPO-Revision-Date")
    path = tmp_path / "far.mo"
    path.write_bytes(_mo(header))
    decision = normalise("mo", path, zero())
    assert isinstance(decision, Rewrite)
    want = header.replace(b"2026-12-07 11:22:33+0100", b"1970-01-01 00:00:00+0000")
    assert path.read_bytes() == _mo(want.replace(b"2026-12-07 11:23+0000", ZERO_TEXT.encode()))


def test_set_policy_is_idempotent_for_a_shape_without_seconds(tmp_path: Path) -> None:
    from rootnorm.clock import Clock, Policy

    settings = Settings(Clock(Policy.SET, EPOCH), True, EPOCH)  # 22:13:20: seconds not kept
    path = tmp_path / "set.mo"
    path.write_bytes(_mo(HEADER))
    assert isinstance(normalise("mo", path, settings), Patch)
    assert inspect("mo", path, settings) is None


def test_older_dates_and_non_dates_kept_under_clamp(tmp_path: Path) -> None:
    older = HEADER.replace(b"2026-12-07", b"2023-11-14").replace(b"11:23+0000", b"21:00+0000")
    path = tmp_path / "old.mo"
    path.write_bytes(_mo(older))
    assert inspect("mo", path, clamp()) is None
    # an hour before EPOCH in UTC, written in +0100: still older, kept as it is
    path.write_bytes(_mo(b"PO-Revision-Date: 2023-11-14 22:13+0100\n"))
    assert inspect("mo", path, clamp()) is None
    template = (
        b"POT-Creation-Date: YEAR-MO-DA HO:MI+ZONE\nPO-Revision-Date: 2026-13-45 10:00+0000\n"
    )
    path.write_bytes(_mo(template))
    assert inspect("mo", path, zero()) is None
    path.write_bytes(_mo(b"Language: de\n"))
    assert inspect("mo", path, zero()) is None


GOOD = _mo(HEADER)
# Its layout: 2 strings, originals' table at 28, translations' at 44 (the header entry's
# descriptor first, then Hello's at 52).


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "truncated"),
        (b"\xde\x12\x04\x95" + bytes(10), "truncated"),
        (b"not a catalogue, just named like one\n", "no .mo magic"),
        (GOOD[:4] + struct.pack("<I", 2 << 16) + GOOD[8:], "revision 2.0"),
        (GOOD[:8] + struct.pack("<I", 1 << 20) + GOOD[12:], "string tables"),
        (GOOD[:20] + struct.pack("<2I", 1 << 20, 28) + GOOD[28:], "hash table"),
        (_mo(HEADER, sysdep=(1, 1 << 20, 0, 0, 0)), "system-dependent"),
        (GOOD[:44] + struct.pack("<2I", 1 << 30, 177) + GOOD[52:], "header entry of"),
        (GOOD[:200], "truncated"),
        (GOOD[:52] + struct.pack("<2I", 5, len(GOOD) + 100) + GOOD[60:], "outside"),
    ],
    ids=[
        "empty", "short", "magic", "revision", "tables", "hash", "sysdep", "huge-header",
        "truncated-header", "descriptor",
    ],
)  # fmt: skip
def test_hostile_left_untouched(tmp_path: Path, content: bytes, why: str) -> None:
    assert_left_unsupported("mo", tmp_path / "bad.mo", content, why)


def test_header_not_nul_terminated() -> None:
    data = bytearray(GOOD)
    length, at = struct.unpack_from("<2I", data, 28 + 16)
    data[at + length] = ord("x")
    with pytest.raises(mofmt.Unsupported, match="NUL"):
        mofmt.plan(io.BytesIO(bytes(data)), len(data), clamp().target_seconds)


def test_revision_1_without_system_dependent_strings_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "sysdep.mo"
    path.write_bytes(_mo(HEADER, sysdep=(0, 0, 0, 0, 0)))
    assert isinstance(normalise("mo", path, zero()), Patch)
    assert path.read_bytes() == _mo(
        HEADER.replace(b"2026-12-07 11:22:33+0100", b"1970-01-01 00:00:00+0000").replace(
            b"2026-12-07 11:23+0000", ZERO_TEXT.encode()
        ),
        sysdep=(0, 0, 0, 0, 0),
    )
    assert _header_of(path)["po-revision-date"] == ZERO_TEXT


def test_no_header_entry_means_nothing_to_do(tmp_path: Path) -> None:
    data = _mo(HEADER)
    # the header's original string made non-empty: it is an ordinary message now
    data = data[:28] + struct.pack("<I", 1) + data[32:]
    path = tmp_path / "plain.mo"
    path.write_bytes(data)
    assert inspect("mo", path, zero()) is None
