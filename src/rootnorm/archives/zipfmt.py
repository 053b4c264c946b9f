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
import stat
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from typing import BinaryIO, NamedTuple, Union

from rootnorm.archives import zip64, zipcontent, zipextra
from rootnorm.archives.plan import (
    Copy,
    Inflated,
    NotThisFormat,
    Plan,
    Segment,
    Unsupported,
    deflate,
    inflate,
    read_at,
    read_exact,
)
from rootnorm.archives.zip64 import LIMIT16, LIMIT32

LOCAL = struct.Struct("<4s5H3I2H")
CENTRAL = struct.Struct("<4s6H3I5HII")
EOCD = struct.Struct("<4s4H2IH")
DESCRIPTOR_SIG = b"PK\x07\x08"
EOCD_SEARCH = EOCD.size + 0xFFFF
ZIP_EPOCH = 315_532_800  # 1980-01-01 00:00:00 UTC, the earliest DOS date
DOS_END = 4_354_819_199  # 2107-12-31 23:59:59 UTC, the latest
FLAG_ENCRYPTED = 0x0001
FLAG_DEFLATE_OPTIONS = 0x0006
FLAG_DESCRIPTOR = 0x0008
FLAG_STRONG_ENCRYPTION = 0x0040
FLAG_MASKED_HEADERS = 0x2000
UNIX_HOST = 3
DOS_DIRECTORY = 0x10
DOS_STEP = 2
JMOD_MAGIC = b"JM\x01\x00"  # a JDK module: this header, then a zip whose offsets skip it
CLOJURE = (b".clj", b".cljc")
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
    local64: bytes | None = None  # the local zip64 field after its two sizes, if it has one
    marks: int = 0  # the central fields the zip64 field stands in for (zip64.SIZE...)
    central_tail: bytes = b""  # the central zip64 field after its values
    settled64: bool = True  # its zip64 fields, if any, are as the plan writes them

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
    by_content: bool = False  # found by its bytes, not its name: the format may have rules


NewContent = Union[bytes, Inflated]


class End(NamedTuple):
    """The end records: where they start, the values they give, the archive comment."""

    start: int  # the central directory ends here
    entries: int
    cd_size: int
    cd_offset: int
    comment: bytes
    zip64: zip64.End | None
    locator_offset: int  # where the locator says the zip64 end record is (base-relative)


def _find_end(src: BinaryIO, size: int) -> End:
    start = max(0, size - EOCD_SEARCH)
    tail = read_at(src, start, size - start)
    pos = len(tail)
    while True:
        pos = tail.rfind(b"PK\x05\x06", 0, pos)
        if pos < 0:
            raise NotThisFormat("no end of central directory record (truncated?)")
        if pos + EOCD.size <= len(tail):
            _, disk, cd_disk, here, count, cd_size, cd_offset, comment_len = EOCD.unpack_from(
                tail, pos
            )
            if pos + EOCD.size + comment_len == len(tail):
                break
    if disk or cd_disk or here != count:
        raise Unsupported("multi-disk archive")
    comment = tail[pos + EOCD.size :]
    if start and pos < zip64.LOCATOR.size + zip64.END.size:  # the records may be out of `tail`
        extra = zip64.LOCATOR.size + zip64.END.size
        tail = read_at(src, max(0, start - extra), min(start, extra)) + tail
        pos += min(start, extra)
        start -= min(start, extra)
    found = zip64.read_end(tail, pos)
    marks = zip64.end_marks(count, cd_size, cd_offset)
    if found is None:
        if marks:
            raise Unsupported("zip64 values without a zip64 end record")
        return End(start + pos, count, cd_size, cd_offset, comment, None, 0)
    end, end_pos = found
    pairs = ((1, count, end.entries), (2, cd_size, end.cd_size), (4, cd_offset, end.cd_offset))
    for bit, classic, value in pairs:
        if not marks & bit and classic != value:
            raise Unsupported("the zip64 and classic end records disagree")
    locator = zip64.LOCATOR.unpack_from(tail, pos - zip64.LOCATOR.size)[2]
    return End(
        start + end_pos,
        end.entries,
        end.cd_size,
        end.cd_offset,
        comment,
        end._replace(marks=marks),
        locator,
    )


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


def _read_entries(src: BinaryIO, size: int) -> tuple[list[ZipEntry], int, int, End]:
    """(entries in central-directory order, directory offset, offset base, end records)."""
    end = _find_end(src, size)
    cd_start = end.start - end.cd_size
    base = cd_start - end.cd_offset  # > 0 when a prefix was added without adjusting offsets
    if cd_start < 0 or base < 0:
        raise Unsupported("central directory outside the file")
    if end.zip64 is not None and end.locator_offset != end.start - base:
        raise Unsupported("zip64 locator does not point at the zip64 end record")
    directory = read_exact(src, cd_start, end.cd_size)
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
        marks = 0
        tail = b""
        if LIMIT32 in (fields[7], fields[8], fields[15]) or fields[12] == LIMIT16:
            header = zip64.Values(fields[8], fields[7], fields[15], fields[12])
            marks = zip64.marked(*header)
            values, tail = zip64.decode(zip64.field(central_extra), marks, header)
            fields[8], fields[7], fields[15], fields[12] = values
        if fields[12] != 0:
            raise Unsupported("multi-disk archive")
        entries.append(
            _read_local(
                src, name, fields, central_extra, entry_comment, base, cd_start, marks, tail
            )
        )
    if len(entries) != end.entries:
        raise Unsupported("entry count does not match the central directory")
    _check_layout(src, entries, cd_start)
    return entries, cd_start, base, end


def _read_local(
    src: BinaryIO,
    name: bytes,
    central: list[int],
    central_extra: bytes,
    comment: bytes,
    base: int,
    cd_start: int,
    marks: int,
    central_tail: bytes,
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
    local64 = zip64.field(local_extra)
    settled64 = not marks or central[1] & 0xFF >= zip64.VERSION
    if local64 is not None:  # a local zip64 field holds both sizes, whatever the header says
        settled64 = settled64 and local[0] & 0xFF >= zip64.VERSION
        settled64 = settled64 and local[6] == local[7] == zip64.LIMIT32
        if len(local64) < 16:
            raise Unsupported(f"zip64 field of {name!r} too short")
        if local[7] == zip64.LIMIT32:
            local[7] = int.from_bytes(local64[:8], "little")
        if local[6] == zip64.LIMIT32:
            local[6] = int.from_bytes(local64[8:16], "little")
        local64 = local64[16:]
    elif zip64.LIMIT32 in local[6:8]:
        raise Unsupported(f"zip64 sizes of {name!r} without a zip64 field")
    sizes = (central[6], central[7], central[8])
    if not local[1] & FLAG_DESCRIPTOR and tuple(local[5:8]) != sizes:
        raise Unsupported(f"local and central CRC or sizes differ for {name!r}")
    data = start + LOCAL.size + name_len + extra_len
    end = data + central[7]
    if local[1] & FLAG_DESCRIPTOR:
        end += _descriptor(src, end, sizes, local64 is not None, name)
    if end > cd_start:
        raise Unsupported(f"entry {name!r} runs into the central directory")
    return ZipEntry(
        name,
        central,
        central_extra,
        comment,
        local,
        local_extra,
        start,
        data,
        end,
        local64,
        marks,
        central_tail,
        settled64,
    )


def _descriptor(
    src: BinaryIO, pos: int, sizes: tuple[int, int, int], wide: bool, name: bytes
) -> int:
    """The length of the data descriptor at `pos` (8-byte sizes after a zip64 local header)."""
    layout = struct.Struct("<IQQ" if wide else "<3I")
    after = read_at(src, pos, 4 + layout.size)
    signed = after[:4] == DESCRIPTOR_SIG and len(after) == 4 + layout.size
    if signed and layout.unpack_from(after, 4) == sizes:
        return 4 + layout.size
    if len(after) >= layout.size and layout.unpack_from(after) == sizes:
        return layout.size
    raise Unsupported(f"data descriptor of {name!r} does not match")


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


def _times(entries: Sequence[ZipEntry], target: Callable[[int], int]) -> dict[bytes, int]:
    """Every entry's new time. Beside compiled classes, Clojure sources get one DOS step
    (2 s) less than the oldest class: Clojure loads an AOT class only when it is strictly
    newer than its source, and recompiles the source at every start otherwise."""
    times = {entry.name: _entry_time(entry, target) for entry in entries}
    sources = [name for name in times if name.endswith(CLOJURE)]
    classes = [name for name in times if name.endswith(b".class")] if sources else []
    if classes:
        oldest = _dos_to_utc(*_utc_to_dos(min(times[name] for name in classes)))
        if oldest - DOS_STEP < ZIP_EPOCH:  # no room before 1980-01-01: the classes move up
            oldest = ZIP_EPOCH + DOS_STEP
            times.update((name, max(times[name], oldest)) for name in classes)
        times.update((name, min(times[name], oldest - DOS_STEP)) for name in sources)
    return times


def _attributes(entry: ZipEntry) -> tuple[int, int]:
    """The entry's "made by" (host Unix, whatever made it) and external attributes:
    permissions 0644/0755 (directories 0755) with the file type kept (symlinks stay)."""
    return _pinned(entry.central[0], entry.central[14], entry.name.endswith(b"/"))


@functools.lru_cache(maxsize=256)  # a few distinct values per archive
def _pinned(made_by: int, attributes: int, slash: bool) -> tuple[int, int]:
    mode = attributes >> 16 if made_by >> 8 == UNIX_HOST else 0
    kind = mode & 0o170000
    if not kind:  # another host's attributes, or none: the name and DOS bits tell a directory
        directory = slash or bool(attributes & DOS_DIRECTORY)
        kind = stat.S_IFDIR if directory else stat.S_IFREG
        attributes = DOS_DIRECTORY if directory else 0
    executable = kind == stat.S_IFDIR or mode & 0o100
    perms = 0o755 if executable else 0o644
    return (UNIX_HOST << 8) | (made_by & 0xFF), ((kind | perms) << 16) | (attributes & 0xFFFF)


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
        pyc.data,
        pyc.compressed_size,
        pyc.size,
        deflated,
        ((8, struct.pack("<I", new_time)),),
        recompress=deflated,
    )
    original_crc = 0
    for chunk in inflate(src, pyc.data, pyc.compressed_size, deflated):
        original_crc = zlib.crc32(chunk, original_crc)
    if original_crc != pyc.crc:
        raise Unsupported(f"content of {pyc.name!r} does not match its CRC")
    return patched


def _encoded(src: BinaryIO, content: NewContent, deflated: bool) -> tuple[list[int], Segment]:
    """New content as the entry stores it (deflated again if it was), and its CRC,
    compressed size and size. A pyc is streamed twice: once here to measure, once to write."""
    if isinstance(content, bytes):
        stored = b"".join(deflate([content])) if deflated else content
        return [zlib.crc32(content), len(stored), len(content)], stored
    crc = 0
    for chunk in content.chunks(src):
        crc = zlib.crc32(chunk, crc)
    compressed = sum(map(len, content.output(src))) if deflated else content.length
    return [crc, compressed, content.length], content


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
    """True when the plan would reproduce the archive, up to a zip64 end record: both
    directories already in the canonical order (so the layout, offsets and a classic end
    record stay), and every header as the plan writes it. Much cheaper than building the
    plan, for the usual second run."""
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
            or _attributes(entry) != (central[0], central[14])
            or not entry.settled64
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
    if not read_at(src, 0, 4).startswith((b"PK\x03\x04", b"PK\x05\x06", b"#!", JMOD_MAGIC)):
        raise NotThisFormat("no zip magic")
    entries, cd_start, base, end = _read_entries(src, size)
    if not entries:
        return None  # the plan would be the file, copied
    times = _times(entries, target)
    contents, content_changes = _new_contents(src, entries, times, opts)
    sort, aligned = _layout_rules(entries, opts)
    ordered = sorted(entries, key=_order_key) if sort else entries
    if not contents and _settled(entries, ordered, times):
        if end.zip64 is None:
            return None
        records = _end(end, len(entries), end.cd_size, end.start, base)
        if read_at(src, end.start, size - end.start) == records:
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
        new_content = contents.get(entry.name)
        stored: Segment = Copy(entry.data, entry.compressed_size)
        sizes = entry.central[6:9]
        if new_content is not None:
            sizes, stored = _encoded(src, new_content, entry.method == DEFLATED)
        header = _local_header(entry, when, sizes)
        if aligned and entry.method == STORED and not entry.data % 4 and (pos + len(header)) % 4:
            raise Unsupported(f"{entry.name!r} would lose the 4-byte alignment of its data")
        central = _central_header(entry, when, sizes, pos - base)
        central_extra = central[-1]
        if (central[0][4], central[0][5]) != (entry.central[4], entry.central[5]):
            result.changes.add("DOS times")
        if (header[len(entry.name) + LOCAL.size :], central_extra) != (
            entry.local_extra,
            entry.central_extra,
        ):
            result.changes.add("extra fields")
        if central[0][14] != entry.central[14] or central[0][0] != entry.central[0]:
            result.changes.add("permissions")
        segment(header)
        segment(stored)
        pos += len(header) + sizes[1]
        directory.append(
            CENTRAL.pack(b"PK\x01\x02", *central[0]) + entry.name + central_extra + entry.comment
        )
    directory_bytes = b"".join(directory)
    result.add(
        directory_bytes
        + _end(end, len(entries), len(directory_bytes), pos + len(directory_bytes), base)
    )
    if pos != cd_start:
        result.changes.add("entry layout")
    return result


def read_entries(src: BinaryIO, size: int) -> list[ZipEntry]:
    """Every entry, in central-directory order, with the layout checks of `plan`; raises
    Unsupported. For readers of a zip's content (the Groovy scan)."""
    return _read_entries(src, size)[0]


def _layout_rules(entries: Sequence[ZipEntry], opts: Options) -> tuple[bool, bool]:
    """Whether the entries may be sorted, and whether stored data aligned to 4 bytes must stay
    so. An APK (v1 signed, zipaligned) keeps both its order and its alignment. A zip found by
    content is sorted only when its entries show a format whose readers go by the central
    directory: a jar (its manifest first), EPUB/ODF (`mimetype` first, stored, as their specs
    require) or OOXML; any other keeps its order and alignment (its format's rules unknown)."""
    names = {entry.name for entry in entries}
    if b"AndroidManifest.xml" in names:
        return False, True
    if not opts.by_content:
        return opts.canonical_order, False
    known = MANIFEST in names or b"mimetype" in names or b"[Content_Types].xml" in names
    return (opts.canonical_order, False) if known else (False, True)


def _local_header(entry: ZipEntry, when: int, sizes: Sequence[int]) -> bytes:
    """The local header with the entry's new time and `sizes` (CRC, compressed, size)."""
    date, clock = _utc_to_dos(when)
    local = list(entry.local)
    local[1] &= ~FLAG_DESCRIPTOR
    if sizes != entry.central[6:9]:  # new content
        local[1] &= ~FLAG_DEFLATE_OPTIONS
    extra = zipextra.normalise(entry.local_extra, when)
    crc, compressed, size = sizes
    if entry.local64 is not None or zip64.needed(size, compressed, 0):
        tail = entry.local64 or b""
        extra = zip64.with_field(extra, struct.pack("<QQ", size, compressed) + tail)
        size = compressed = zip64.LIMIT32
        local[0] = zip64.needs_version(local[0])
    local[3:8] = [clock, date, crc, compressed, size]
    local[9] = len(extra)
    return LOCAL.pack(b"PK\x03\x04", *local) + entry.name + extra


def _central_header(
    entry: ZipEntry, when: int, sizes: Sequence[int], offset: int
) -> tuple[list[int], bytes]:
    """The central header fields and extra field of the entry at `offset`."""
    date, clock = _utc_to_dos(when)
    central = list(entry.central)
    central[2] &= ~FLAG_DESCRIPTOR
    if sizes != entry.central[6:9]:
        central[2] &= ~FLAG_DEFLATE_OPTIONS
    extra = zipextra.normalise(entry.central_extra, when)
    crc, compressed, size = sizes
    marks = entry.marks | zip64.needed(size, compressed, offset)
    disk = 0
    if marks:
        values = zip64.Values(size, compressed, offset, 0)
        extra = zip64.with_field(extra, zip64.encode(marks, values, entry.central_tail))
        size, compressed, offset, disk = zip64.header_values(marks, values)
        central[1] = zip64.needs_version(central[1])
    central[4:9] = [clock, date, crc, compressed, size]
    central[10] = len(extra)
    central[12] = disk
    central[15] = offset
    central[0], central[14] = _attributes(entry)
    return central, extra


def _end(end: End, count: int, cd_size: int, cd_end: int, base: int) -> bytes:
    """The end records of a directory of `cd_size` bytes that ends at `cd_end`: a zip64 end
    record and locator when the values need them or the archive had them."""
    cd_offset = cd_end - cd_size - base
    classic = [count, cd_size, cd_offset]
    records = b""
    marks = zip64.end_marks(
        LIMIT16 if count >= LIMIT16 else 0,
        LIMIT32 if cd_size >= LIMIT32 else 0,
        LIMIT32 if cd_offset >= LIMIT32 else 0,
    )
    if end.zip64 is not None or marks:
        made_by, needed = (
            (end.zip64.made_by, end.zip64.needed)
            if end.zip64 is not None
            else ((UNIX_HOST << 8) | zip64.VERSION, zip64.VERSION)
        )
        marks |= end.zip64.marks if end.zip64 is not None else 0
        new = zip64.End(made_by, needed, count, cd_size, cd_offset, marks)
        records = zip64.write_end(new, cd_end, base)
        for k, (bit, limit) in enumerate(((1, LIMIT16), (2, LIMIT32), (4, LIMIT32))):
            if marks & bit:
                classic[k] = limit
    return (
        records
        + EOCD.pack(
            b"PK\x05\x06", 0, 0, classic[0], classic[0], classic[1], classic[2], len(end.comment)
        )
        + end.comment
    )
