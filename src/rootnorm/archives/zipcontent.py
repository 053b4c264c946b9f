"""The only zip entry contents rootnorm changes: a jar manifest's build-host lines, and the
source mtime in a timestamp pyc that sits beside its `.py` (what zipimport checks)."""

from __future__ import annotations

import struct
from collections.abc import Iterable

PYC_HEAD = 16
TZ_STEP = 900  # every time zone offset in use is a multiple of 15 minutes
TZ_MAX = 14 * 3600


def drop_manifest_attributes(text: bytes, names: Iterable[str]) -> bytes:
    """`text` without the attributes called `names` (any case), their continuation lines too."""
    drop = {name.lower().encode() for name in names}
    out = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if line.startswith(b" "):  # continuation of the previous attribute
            if not dropping:
                out.append(line)
            continue
        name, colon, _ = line.partition(b":")
        dropping = bool(colon) and name.strip().lower() in drop
        if not dropping:
            out.append(line)
    return b"".join(out)


def timestamp_pyc(head: bytes) -> tuple[int, int] | None:
    """(source mtime, source size) of a timestamp-based pyc header; None for anything else."""
    if len(head) < PYC_HEAD or head[2:4] != b"\r\n":
        return None
    flags, mtime, size = struct.unpack_from("<III", head, 4)
    return None if flags else (mtime, size)


def was_fresh(pyc_mtime: int, source_dos_utc: int, source_unix: int | None) -> bool:
    """Whether the pyc matched its source for zipimport in some time zone before the change.

    zipimport reads the .py entry's DOS time in the local zone, so a fresh pyc differs from the
    DOS time read as UTC by the build's zone offset (give or take DOS's 2-second steps).
    """
    if source_unix is not None and abs(pyc_mtime - source_unix) <= 1:
        return True
    delta = pyc_mtime - source_dos_utc
    steps = round(delta / TZ_STEP)
    return abs(steps * TZ_STEP) <= TZ_MAX and abs(delta - steps * TZ_STEP) <= 2
