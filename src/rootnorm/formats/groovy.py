"""Groovy's build-time field: `__timeStamp__239_neverHappen<ms>` in classes inside a jar.

Groovy compilers before 2.5 add this static field, holding the compile time in ms, to every
class they compile, so each build of a Groovy jar differs. Only the constant pool names it,
near the start of the class file: each `.class` entry is inflated up to CLASS_LIMIT bytes,
never further, and only stored or deflated entries are read.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from rootnorm.archives.plan import inflate
from rootnorm.archives.zipfmt import DEFLATED, STORED, read_entries

MARKER = re.compile(rb"__timeStamp__239_neverHappen[0-9]+")
CLASS_LIMIT = 1 << 20
CLASS_MAGIC = b"\xca\xfe\xba\xbe"


def _scan(src: BinaryIO, offset: int, size: int, deflated: bool) -> bytes | None:
    """The marker, if the first CLASS_LIMIT bytes of the entry's content hold it."""
    seen = b""
    for chunk in inflate(src, offset, size, deflated):
        seen += chunk
        if not seen.startswith(CLASS_MAGIC[: len(seen)]):
            return None
        found = MARKER.search(seen)
        if found and found.end() < len(seen):
            return found.group()
        if len(seen) >= CLASS_LIMIT:
            return None
    found = MARKER.search(seen)
    return found.group() if found else None


def timestamped_classes(src: BinaryIO, size: int) -> list[tuple[str, str]]:
    """(class entry name, field name) of every class carrying the field; raises Unsupported
    (rootnorm.archives.plan) for an archive the zip reader refuses."""
    found = []
    for entry in read_entries(src, size):
        if not entry.name.endswith(b".class") or entry.method not in (STORED, DEFLATED):
            continue
        field = _scan(src, entry.data, entry.compressed_size, entry.method == DEFLATED)
        if field is not None:
            found.append((entry.name.decode("utf-8", "replace"), field.decode()))
    return found
