"""The cheap proof that a zip is already canonical agrees with the full plan, on generated zips.

Archives are generated from a fixed seed with what real writers vary: entry order, times older
and newer than the target, DOS-only or UT/UX/Ux/NTFS extra fields,
Unix or DOS permissions, stored or deflated data, data descriptors, comments, zip64 local
fields (Python's force_zip64) and zip64 end records; each also after
rootnorm normalised it (where the proof must hold), after one random edit of one header field
of a normalised one, and normalised in its own order then asked for the canonical order. For
each, `plan` with the proof and the full plan without it must agree: None exactly when the
full plan would reproduce the file. (Descriptors flagged in the local headers alone are in
test_zip.py: no single edit makes a valid one.)
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Callable

import pytest
from archive_helpers import EPOCH, Unseekable, central_records

from rootnorm.archives import zip64, zipextra, zipfmt
from rootnorm.archives.plan import Unsupported

NAMES = ["mimetype", "META-INF/", "META-INF/MANIFEST.MF", "a/first.txt", "m/", "z/last.txt"]
TIMES = [
    (1980, 1, 1, 0, 0, 0),
    (2020, 5, 17, 8, 30, 12),
    (2023, 11, 14, 22, 13, 20),
    (2025, 7, 15, 18, 31, 6),
]
TARGETS: dict[str, Callable[[int], int]] = {"clamp": lambda s: min(s, EPOCH), "zero": lambda s: 0}


def _extra(rng: random.Random, when: int) -> bytes:
    fields = []
    for ident in rng.sample([zipextra.UNIX_TIME, zipextra.INFOZIP_UNIX1, 0x7855, zipextra.NTFS], 2):
        if rng.random() < 0.5:
            continue
        if ident == zipextra.UNIX_TIME:
            data = struct.pack("<BI", 1, when)
        elif ident == zipextra.INFOZIP_UNIX1:
            data = struct.pack("<IIHH", when, when, 1000, 1000)
        elif ident == 0x7855:
            data = struct.pack("<HH", 1000, 1000)
        else:
            filetime = (when + zipextra.FILETIME_EPOCH) * 10_000_000
            data = struct.pack("<IHH", 0, 1, 24) + struct.pack("<Q", filetime) * 3
        fields.append(struct.pack("<HH", ident, len(data)) + data)
    return b"".join(fields)


def _with_zip64_end(data: bytes, comment: bytes) -> bytes:
    """`data` with a zip64 end record and locator before its classic end record."""
    eocd = len(data) - zipfmt.EOCD.size - len(comment)
    _, _, _, _, count, cd_size, cd_offset, _ = zipfmt.EOCD.unpack_from(data, eocd)
    record = zip64.END.pack(
        b"PK\x06\x06", 44, 0x31E, 45, 0, 0, count, count, cd_size, cd_offset
    ) + zip64.LOCATOR.pack(b"PK\x06\x07", 0, eocd, 1)
    return data[:eocd] + record + data[eocd:]


def _archive(rng: random.Random) -> bytes:
    sink = io.BytesIO()
    target = Unseekable(sink) if rng.random() < 0.25 else sink
    names = rng.sample(NAMES, rng.randint(1, len(NAMES)))
    force_zip64 = rng.random() < 0.3  # as reproducible packers of OME-Zarr zips do
    with zipfile.ZipFile(target, "w") as archive:  # type: ignore[arg-type]
        for name in names:
            info = zipfile.ZipInfo(name, rng.choice(TIMES))
            info.create_system = rng.choice([0, 3])
            mode = 0o40000 if name.endswith("/") else 0o100000
            info.external_attr = (mode | rng.choice([0o644, 0o664, 0o755, 0o600])) << 16
            info.compress_type = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
            info.extra = _extra(rng, 1_600_000_000 + rng.randrange(200_000_000))
            info.comment = rng.choice([b"", b"note"])
            data = b"" if name.endswith("/") else name.encode() * 20
            if force_zip64 and data:
                with archive.open(info, "w", force_zip64=True) as out:
                    out.write(data)
            else:
                archive.writestr(info, data)
        archive.comment = rng.choice([b"", b"archive comment"])
    if rng.random() < 0.3:
        return _with_zip64_end(sink.getvalue(), archive.comment)
    return sink.getvalue()


def _plan(data: bytes, target: Callable[[int], int], opts: zipfmt.Options) -> zipfmt.Plan | None:
    return zipfmt.plan(io.BytesIO(data), len(data), target, opts)


def _normalised(data: bytes, target: Callable[[int], int], opts: zipfmt.Options) -> bytes:
    plan = _plan(data, target, opts)
    if plan is None:
        return data
    out = io.BytesIO()
    plan.write(io.BytesIO(data), out)
    return out.getvalue()


def _one_edit(rng: random.Random, data: bytes) -> bytes:
    """`data` with one header field of one entry changed, or its central records reordered."""
    entries, _, _, _ = zipfmt._read_entries(io.BytesIO(data), len(data))
    records = central_records(data)
    if len(entries) > 1 and rng.random() < 0.1:
        order = list(range(len(entries)))
        rng.shuffle(order)
        swapped = b"".join(data[records[k][0] : records[k][1]] for k in order)
        return data[: records[0][0]] + swapped + data[records[-1][1] :]
    k = rng.randrange(len(entries))
    entry, central = entries[k], records[k][0]
    local_extra = entry.start + zipfmt.LOCAL.size + len(entry.name)
    central_extra = central + zipfmt.CENTRAL.size + len(entry.name)
    spots = [
        entry.start + 4,  # local version needed
        entry.start + 10,  # local DOS time, date
        entry.start + 12,
        central + 12,  # central DOS time, date
        central + 14,
        central + 38,  # external attributes (permissions)
        central + 40,
        central + 5,  # host system
        central + 6,  # central version needed
    ]
    spots += [local_extra + i for i in range(len(entry.local_extra))]
    spots += [central_extra + i for i in range(len(entry.central_extra))]
    tail = data.rfind(b"PK\x06\x06")  # a zip64 end record and its locator
    if tail >= 0 and rng.random() < 0.5:
        spots = list(range(tail + 12, tail + zip64.END.size + zip64.LOCATOR.size))
    out = bytearray(data)
    if tail >= 0 and rng.random() < 0.1:
        out[tail + zip64.END.size + 16] = 0  # a locator that counts 0 disks, as some writers do
    elif rng.random() < 0.1:
        out[central + 8] |= 0x08  # a data descriptor flag, central only
    else:
        out[rng.choice(spots)] ^= 1 << rng.randrange(8)
    return bytes(out)


def _agree(archive: bytes, target: Callable[[int], int], opts: zipfmt.Options) -> bool | None:
    """Whether the proof held (None when the archive is unsupported); fails on disagreement."""
    try:
        proved = _plan(archive, target, opts)
    except Unsupported:
        return None
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(zipfmt, "_settled", lambda *args: False)
        full = _plan(archive, target, opts)
    assert full is not None
    assert (proved is None) == full.same_as(io.BytesIO(archive), len(archive)), archive
    return proved is None


@pytest.mark.parametrize("seed", range(40))
def test_proof_agrees_with_the_full_plan(seed: int) -> None:
    rng = random.Random(seed)
    seen: dict[bool | None, int] = {True: 0, False: 0, None: 0}
    for _ in range(10):
        data = _archive(rng)
        target = TARGETS[rng.choice(sorted(TARGETS))]
        opts = zipfmt.Options(canonical_order=rng.random() < 0.8)
        normalised = _normalised(data, target, opts)
        seen[_agree(data, target, opts)] += 1
        assert _agree(normalised, target, opts), "a normalised archive must be proven canonical"
        for _ in range(5):
            seen[_agree(_one_edit(rng, normalised), target, opts)] += 1
        kept = _normalised(data, target, zipfmt.Options(canonical_order=False))
        seen[_agree(kept, target, zipfmt.Options(canonical_order=True))] += 1
    assert seen[False] >= 10  # most edits must need a rewrite
