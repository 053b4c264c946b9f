"""Zip family (zip, jar, war, ear, wheel, egg, zipapp, apk, jmod): canonical headers and order.

Every entry gets the target time (DOS fields and the UT/UX/NTFS extra fields alike, never before
1980-01-01), uid/gid 0, permissions 0644/0755 with the file type kept, no data descriptor, and
(optionally) a canonical place in the archive. Compressed data is copied. Jar manifests lose
their build-host attributes unless the jar is signed; timestamp pycs beside their `.py` get the
source's new time, so zipimport keeps using them. Anything the planner does not fully
understand (zip64, encryption, multi-disk, gaps, overlaps, unsafe names) raises Unsupported.
"""

from __future__ import annotations

import calendar
import functools
import re
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from typing import BinaryIO, NamedTuple, Union

from rootnorm.archives import zipcontent, zipextra
from rootnorm.archives.plan import (
    Copy,
    Inflated,
    Plan,
    Unsupported,
    inflate,
    read_at,
    read_exact,
)

LOCAL = struct.Struct("<4s5H3I2H")
CENTRAL = struct.Struct("<4s6H3I5HII")
EOCD = struct.Struct("<4s4H2IH")
DESCRIPTOR_SIG = b"PK\x07\x08"
LOCATOR64_SIG = b"PK\x06\x07"
EOCD_SEARCH = EOCD.size + 0xFFFF
ZIP_EPOCH = 315_532_800  # 1980-01-01 00:00:00 UTC, the earliest DOS date
DOS_END = 4_354_819_199  # 2107-12-31 23:59:59 UTC, the latest
FLAG_ENCRYPTED = 0x0001
FLAG_DEFLATE_OPTIONS = 0x0006
FLAG_DESCRIPTOR = 0x0008
FLAG_STRONG_ENCRYPTION = 0x0040
FLAG_MASKED_HEADERS = 0x2000
UNIX_HOST = 3
STORED, DEFLATED = 0, 8
MANIFEST = b"META-INF/MANIFEST.MF"
MAX_MANIFEST = 1 << 20
SIGNATURE = re.compile(rb"META-INF/[^/]+\.(SF|RSA|DSA|EC)|META-INF/SIG-[^/]+", re.IGNORECASE)
RECORD = re.compile(rb"[^/]+\.dist-info/RECORD")


class ZipEntry(NamedTuple):
    name: bytes
    central: list[int]  # CENTRAL fields after the signature
    central_extra: bytes
    comment: bytes
    local: list[int]  # LOCAL fields after the signature
    local_extra: bytes
    start: int  # absolute offset of the local header
    data: int  # absolute offset of the compressed data
    end: int  # just past the data and any data descriptor

    @property
    def method(self) -> int:
        return self.central[3]

    @property
    def crc(self) -> int:
        return self.central[6]

    @property
    def compressed_size(self) -> int:
        return self.central[7]

    @property
    def size(self) -> int:
        return self.central[8]


class Options(NamedTuple):
    canonical_order: bool = True
    manifest_drop: tuple[str, ...] = ("Built-By", "Bnd-LastModified")


NewContent = Union[bytes, Inflated]


def _find_eocd(src: BinaryIO, size: int) -> tuple[int, tuple[int, ...], bytes]:
    start = max(0, size - EOCD_SEARCH)
    tail = read_at(src, start, size - start)
    pos = len(tail)
    while True:
        pos = tail.rfind(b"PK\x05\x06", 0, pos)
        if pos < 0:
            raise Unsupported("no end of central directory record (truncated?)")
        if pos + EOCD.size <= len(tail):
            fields = EOCD.unpack_from(tail, pos)
            if pos + EOCD.size + fields[7] == len(tail):
                comment = tail[pos + EOCD.size :]
                if start + pos >= 20 and read_at(src, start + pos - 20, 4) == LOCATOR64_SIG:
                    raise Unsupported("zip64 archive")
                return start + pos, fields[1:], comment


@functools.lru_cache(maxsize=4096)  # archives repeat a few times over and over
def _dos_to_utc(date: int, clock: int) -> int:
    year = 1980 + (date >> 9)
    month = min(max((date >> 5) & 0xF, 1), 12)
    day = date & 0x1F
    return calendar.timegm(
        (year, month, 1, clock >> 11, (clock >> 5) & 0x3F, (clock & 0x1F) * 2)
    ) + 86400 * max(day - 1, 0)


@functools.lru_cache(maxsize=4096)
def _utc_to_dos(when: int) -> tuple[int, int]:
    t = time.gmtime(when)
    date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    return date, (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)


def _check_name(name: bytes) -> None:
    if (
        name
        and name[0] not in b"/\\"
        and b".." not in name
        and b":" not in name[:3]
        and b"\0" not in name
    ):
        return  # most names: not absolute, no parent step, no drive letter, no NUL
    parts = name.replace(b"\\", b"/").split(b"/")
    if not name or name.startswith((b"/", b"\\")) or b"\0" in name or b".." in parts:
        raise Unsupported(f"unsafe entry name {name!r}")
    if len(parts[0]) == 2 and parts[0].endswith(b":"):
        raise Unsupported(f"entry name with a drive letter {name!r}")


def _read_entries(src: BinaryIO, size: int) -> tuple[list[ZipEntry], int, int, bytes]:
    """(entries in central-directory order, directory offset, offset base, archive comment)."""
    eocd_pos, (disk, cd_disk, count_here, count, cd_size, cd_offset, _), comment = _find_eocd(
        src, size
    )
    if disk or cd_disk or count_here != count:
        raise Unsupported("multi-disk archive")
    if 0xFFFF in (count, count_here) or 0xFFFFFFFF in (cd_size, cd_offset):
        raise Unsupported("zip64 archive")
    cd_start = eocd_pos - cd_size
    base = cd_start - cd_offset  # > 0 when a prefix was added without adjusting offsets
    if cd_start < 0 or base < 0:
        raise Unsupported("central directory outside the file")
    directory = read_exact(src, cd_start, cd_size)
    entries = []
    pos = 0
    seen: set[bytes] = set()
    while pos < len(directory):
        if pos + CENTRAL.size > len(directory):
            raise Unsupported("truncated central directory")
        sig, *fields = CENTRAL.unpack_from(directory, pos)
        if sig != b"PK\x01\x02":
            raise Unsupported("bad central directory entry")
        name_len, extra_len, comment_len = fields[9:12]
        pos += CENTRAL.size
        name_end = pos + name_len
        extra_end = name_end + extra_len
        name = directory[pos:name_end]
        central_extra = directory[name_end:extra_end]
        pos = extra_end + comment_len
        entry_comment = directory[extra_end:pos]
        if pos > len(directory):
            raise Unsupported("truncated central directory")
        _check_name(name)
        if name in seen:
            raise Unsupported(f"duplicate entry {name!r}")
        seen.add(name)
        flags = fields[2]
        if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS):
            raise Unsupported(f"encrypted entry {name!r}")
        if fields[12] != 0:
            raise Unsupported("multi-disk archive")
        if 0xFFFFFFFF in (fields[6], fields[7], fields[15]):
            raise Unsupported("zip64 entry")
        entries.append(_read_local(src, name, fields, central_extra, entry_comment, base, cd_start))
    if len(entries) != count:
        raise Unsupported("entry count does not match the central directory")
    _check_layout(src, entries, cd_start)
    return entries, cd_start, base, comment


def _read_local(
    src: BinaryIO,
    name: bytes,
    central: list[int],
    central_extra: bytes,
    comment: bytes,
    base: int,
    cd_start: int,
) -> ZipEntry:
    start = base + central[15]
    if start + LOCAL.size > cd_start:
        raise Unsupported(f"entry {name!r} starts outside the archive")
    # One read for the header and, usually, its name and extra field (most local extra
    # fields are as long as the central one, or shorter).
    head = read_at(src, start, LOCAL.size + len(name) + len(central_extra) + 32)
    if len(head) < LOCAL.size:
        raise Unsupported(f"truncated: {LOCAL.size} bytes expected at offset {start}")
    sig, *local = LOCAL.unpack_from(head)
    if sig != b"PK\x03\x04":
        raise Unsupported(f"bad local header for {name!r}")
    name_len, extra_len = local[8:10]
    end_variable = LOCAL.size + name_len + extra_len
    if len(head) >= end_variable:
        variable = head[LOCAL.size : end_variable]
    else:
        variable = read_exact(src, start + LOCAL.size, name_len + extra_len)
    if variable[:name_len] != name:
        raise Unsupported(f"local and central names differ for {name!r}")
    if local[2] != central[3]:
        raise Unsupported(f"local and central compression methods differ for {name!r}")
    if local[1] & FLAG_ENCRYPTED:
        raise Unsupported(f"encrypted entry {name!r}")
    local_extra = variable[name_len:]
    if 0xFFFFFFFF in local[5:8] or (
        local_extra and any(ident == zipextra.ZIP64 for ident, _ in zipextra.fields(local_extra))
    ):
        raise Unsupported(f"zip64 entry {name!r}")
    sizes = (central[6], central[7], central[8])
    if not local[1] & FLAG_DESCRIPTOR and tuple(local[5:8]) != sizes:
        raise Unsupported(f"local and central CRC or sizes differ for {name!r}")
    data = start + LOCAL.size + name_len + extra_len
    end = data + central[7]
    if local[1] & FLAG_DESCRIPTOR:
        after = read_at(src, end, 16)
        if after[:4] == DESCRIPTOR_SIG and struct.unpack_from("<3I", after, 4) == sizes:
            end += 16
        elif len(after) >= 12 and struct.unpack_from("<3I", after) == sizes:
            end += 12
        else:
            raise Unsupported(f"data descriptor of {name!r} does not match")
    if end > cd_start:
        raise Unsupported(f"entry {name!r} runs into the central directory")
    return ZipEntry(name, central, central_extra, comment, local, local_extra, start, data, end)


def _check_layout(src: BinaryIO, entries: Sequence[ZipEntry], cd_start: int) -> None:
    """Entries must tile the space up to the central directory: no overlap, no hidden bytes."""
    ordered = sorted(entries, key=lambda e: e.start)
    for here, after in zip(ordered, ordered[1:]):
        if here.end != after.start:
            what = "overlap" if here.end > after.start else "unexplained bytes"
            raise Unsupported(f"entries {here.name!r} and {after.name!r}: {what}")
    if ordered and ordered[-1].end != cd_start:
        gap = read_at(src, ordered[-1].end, min(cd_start - ordered[-1].end, 1 << 16))
        if b"APK Sig Block 42" in gap:
            raise Unsupported("APK signing block (v2+ signature covers every byte)")
        raise Unsupported("unexplained bytes before the central directory")


def _order_key(entry: ZipEntry) -> tuple[int, bytes]:
    name = entry.name
    if name == b"mimetype":
        rank = 0
    elif name == b"META-INF/":
        rank = 1
    elif name == MANIFEST:
        rank = 2
    elif name.startswith(b"META-INF/"):
        rank = 3
    else:
        rank = 4
    return rank, name


def _entry_time(entry: ZipEntry, target: Callable[[int], int]) -> int:
    unix = None
    if entry.central_extra or entry.local_extra:
        unix = zipextra.unix_mtime(entry.central_extra)
        if unix is None:
            unix = zipextra.unix_mtime(entry.local_extra)
    if unix is None:
        unix = _dos_to_utc(entry.central[5], entry.central[4])
    when = max(target(unix), ZIP_EPOCH)
    if when > DOS_END:
        raise Unsupported(f"time {when} of {entry.name!r} is beyond what a zip can hold")
    return when


def _mode(made_by: int, attributes: int) -> int:
    if made_by >> 8 != UNIX_HOST or not attributes >> 16:
        return attributes
    mode = attributes >> 16
    perms = 0o755 if mode & 0o100 else 0o644
    return ((mode & 0o170000 | perms) << 16) | (attributes & 0xFFFF)


def _content(src: BinaryIO, entry: ZipEntry) -> bytes:
    """The whole (small) content of `entry`, CRC checked."""
    data = b"".join(inflate(src, entry.data, entry.compressed_size, entry.method == DEFLATED))
    if len(data) != entry.size or zlib.crc32(data) != entry.crc:
        raise Unsupported(f"content of {entry.name!r} does not match its CRC")
    return data


def _manifest(src: BinaryIO, entry: ZipEntry, drop: Sequence[str]) -> bytes | None:
    if entry.method not in (STORED, DEFLATED) or entry.size > MAX_MANIFEST or not drop:
        return None
    text = _content(src, entry)
    edited = zipcontent.drop_manifest_attributes(text, drop)
    return None if edited == text else edited


def _pyc(src: BinaryIO, pyc: ZipEntry, source: ZipEntry, source_time: int) -> Inflated | None:
    """The pyc with its source mtime set to what zipimport will read from `source`, if needed."""
    if pyc.method not in (STORED, DEFLATED):
        return None
    deflated = pyc.method == DEFLATED
    head = b""
    for chunk in inflate(src, pyc.data, pyc.compressed_size, deflated):
        head += chunk
        if len(head) >= zipcontent.PYC_HEAD:
            break
    fields = zipcontent.timestamp_pyc(head)
    if fields is None or fields[1] != source.size & 0xFFFFFFFF:
        return None
    old_time = _dos_to_utc(source.central[5], source.central[4])
    source_unix = zipextra.unix_mtime(source.central_extra)
    if not zipcontent.was_fresh(fields[0], old_time, source_unix):
        return None  # stale already: making it look fresh would hide that
    new_time = _dos_to_utc(*_utc_to_dos(source_time))
    if fields[0] == new_time:
        return None
    patched = Inflated(
        pyc.data, pyc.compressed_size, pyc.size, deflated, ((8, struct.pack("<I", new_time)),)
    )
    original_crc = 0
    for chunk in inflate(src, pyc.data, pyc.compressed_size, deflated):
        original_crc = zlib.crc32(chunk, original_crc)
    if original_crc != pyc.crc:
        raise Unsupported(f"content of {pyc.name!r} does not match its CRC")
    return patched


def _crc(src: BinaryIO, content: NewContent) -> int:
    if isinstance(content, bytes):
        return zlib.crc32(content)
    crc = 0
    for chunk in content.chunks(src):
        crc = zlib.crc32(chunk, crc)
    return crc


def _new_contents(
    src: BinaryIO, entries: Sequence[ZipEntry], times: dict[bytes, int], opts: Options
) -> tuple[dict[bytes, NewContent], set[str]]:
    by_name = {entry.name: entry for entry in entries}
    signed = any(SIGNATURE.fullmatch(name) for name in by_name)
    if signed or any(RECORD.fullmatch(name) for name in by_name):
        return {}, set()  # their signatures / hashes cover the content
    contents: dict[bytes, NewContent] = {}
    changes = set()
    manifest = by_name.get(MANIFEST)
    if manifest is not None:
        edited = _manifest(src, manifest, opts.manifest_drop)
        if edited is not None:
            contents[MANIFEST] = edited
            changes.add("manifest attributes")
    for name, entry in by_name.items():
        source = by_name.get(name[:-1]) if name.endswith(b".pyc") else None
        if source is not None:
            patched = _pyc(src, entry, source, times[source.name])
            if patched is not None:
                contents[name] = patched
                changes.add("pyc source mtimes")
    return contents, changes


def _settled(
    entries: Sequence[ZipEntry], ordered: Sequence[ZipEntry], times: dict[bytes, int]
) -> bool:
    """True when the plan would reproduce the archive: both directories already in the
    canonical order (so the layout, offsets and end record stay), and every header as the
    plan writes it. Much cheaper than building the plan, for the usual second run."""
    if ordered != entries or any(a.start > b.start for a, b in zip(entries, entries[1:])):
        return False
    for entry in entries:
        local, central = entry.local, entry.central
        when = times[entry.name]
        date, clock = _utc_to_dos(when)
        if (
            central[5] != date
            or central[4] != clock
            or local[4] != date
            or local[3] != clock
            or local[1] & FLAG_DESCRIPTOR
            or central[2] & FLAG_DESCRIPTOR
            or _mode(central[0], central[14]) != central[14]
        ):
            return False
        if entry.local_extra and zipextra.normalise(entry.local_extra, when) != entry.local_extra:
            return False
        if (
            entry.central_extra
            and zipextra.normalise(entry.central_extra, when) != entry.central_extra
        ):
            return False
    return True


def plan(src: BinaryIO, size: int, target: Callable[[int], int], opts: Options) -> Plan | None:
    """The canonical archive, or None when it is proven to be the archive as it is."""
    if not read_at(src, 0, 4).startswith((b"PK\x03\x04", b"PK\x05\x06", b"#!")):
        raise Unsupported("no zip magic")
    entries, cd_start, base, comment = _read_entries(src, size)
    if not entries:
        return None  # the plan would be the file, copied
    times = {entry.name: _entry_time(entry, target) for entry in entries}
    contents, content_changes = _new_contents(src, entries, times, opts)
    ordered = sorted(entries, key=_order_key) if opts.canonical_order else entries
    if not contents and _settled(entries, ordered, times):
        return None
    result = Plan()
    result.changes.update(content_changes)
    if [e.start for e in ordered] != sorted(e.start for e in ordered):
        result.changes.add("entry order")
    elif ordered != entries:
        result.changes.add("central directory order")
    if any(e.local[1] & FLAG_DESCRIPTOR for e in entries):
        result.changes.add("data descriptors")

    first = min(entry.start for entry in entries)
    result.add(Copy(0, first))
    pos = first
    directory = []
    segment = result.segments.append  # a header, then a Copy or new content: nothing to merge
    for entry in ordered:
        when = times[entry.name]
        date, clock = _utc_to_dos(when)
        local = list(entry.local)
        central = list(entry.central)
        if (central[5], central[4]) != (date, clock):
            result.changes.add("DOS times")
        new_content = contents.get(entry.name)
        local[1] &= ~FLAG_DESCRIPTOR
        central[2] &= ~FLAG_DESCRIPTOR
        if new_content is not None:
            length = len(new_content) if isinstance(new_content, bytes) else new_content.length
            sizes = [_crc(src, new_content), length, length]
            local[1] &= ~FLAG_DEFLATE_OPTIONS
            central[2] &= ~FLAG_DEFLATE_OPTIONS
            local[2] = central[3] = STORED
        else:
            sizes = central[6:9]
        local[3:8] = [clock, date, *sizes]
        central[4:9] = [clock, date, *sizes]
        local_extra = zipextra.normalise(entry.local_extra, when)
        central_extra = zipextra.normalise(entry.central_extra, when)
        if (local_extra, central_extra) != (entry.local_extra, entry.central_extra):
            result.changes.add("extra fields")
        central[14] = _mode(central[0], central[14])
        if central[14] != entry.central[14]:
            result.changes.add("permissions")
        central[15] = pos - base
        header = LOCAL.pack(b"PK\x03\x04", *local) + entry.name + local_extra
        segment(header)
        if new_content is None:
            segment(Copy(entry.data, entry.compressed_size))
            pos += len(header) + entry.compressed_size
        else:
            segment(new_content)
            pos += len(header) + sizes[1]
        directory.append(
            CENTRAL.pack(b"PK\x01\x02", *central) + entry.name + central_extra + entry.comment
        )
    directory_bytes = b"".join(directory)
    result.add(
        directory_bytes
        + EOCD.pack(
            b"PK\x05\x06",
            0,
            0,
            len(entries),
            len(entries),
            len(directory_bytes),
            pos - base,
            len(comment),
        )
        + comment
    )
    if pos != cd_start:
        result.changes.add("entry layout")
    return result


def read_entries(src: BinaryIO, size: int) -> list[ZipEntry]:
    """Every entry, in central-directory order, with the layout checks of `plan`; raises
    Unsupported. For readers of a zip's content (the Groovy scan)."""
    return _read_entries(src, size)[0]
