"""Bytecode caches: a valid timestamp pyc gets its source's FINAL mtime; a stale one stays stale."""

from __future__ import annotations

import struct

from rootnorm.clock import NS
from rootnorm.decisions import Decision, Leave, Outcome, Patch, Remove
from rootnorm.handlers.base import Handler, Item, Option
from rootnorm.inventory import Entry, Inventory
from rootnorm.pyc import header as pycheader
from rootnorm.pyc.siphash import source_hash
from rootnorm.pyc.source import source_of
from rootnorm.safeopen import read_whole

U32 = 0xFFFFFFFF


class PycHandler(Handler):
    name = "pyc"
    summary = "Valid timestamp pycs get their source's final mtime in the header (PEP 552 aware)"
    options = (
        Option(
            "checked_hash",
            "never",
            "Turn valid timestamp pycs (CPython 3.7+) into checked-hash pycs: 'empty' for those "
            "whose source is an empty file (ostree gives empty files the checkout time), 'all' "
            "for every one, 'never' to keep timestamps",
            ("never", "empty", "all"),
        ),
        Option(
            "stale",
            "keep",
            "What to do with a pyc that is already stale: 'keep' it and report it, or 'remove' it",
            ("keep", "remove"),
        ),
    )

    def wants(self, entry: Entry) -> bool:
        return entry.name.endswith((b".pyc", b".pyo"))

    def inspect(self, item: Item) -> Decision:
        parsed = pycheader.parse(item.head())
        if isinstance(parsed, str):
            return Leave(Outcome.UNSUPPORTED, parsed)
        inventory = item.inventory
        names = inventory.names_of(item.index)
        sources = {_source_index(inventory, inventory.entries[i]) for i in names}
        if len(sources) > 1:
            return Leave(Outcome.UNSUPPORTED, "hard-linked with the caches of other sources")
        found = sources.pop()
        if isinstance(found, str):
            return Leave(Outcome.SKIPPED, found)
        source = inventory.entries[found]
        if parsed.hash_based:
            return Leave(Outcome.SKIPPED, "hash-based pyc: its validity does not depend on mtimes")
        stale = _stale_reason(parsed, source)
        if stale:
            if self.opts["stale"] == "remove":
                return Remove(f"removed stale pyc: {stale}")
            return Leave(Outcome.STALE, stale)
        if self._to_checked_hash(parsed, source):
            text = read_whole(inventory, found) if source.size else b""
            digest = source_hash(item.head()[:4], text)
            flags = struct.pack("<I", pycheader.CHECKED_HASH)
            return Patch(4, flags + digest, "timestamp pyc -> checked-hash pyc")
        final = (self.settings.final_mtime_ns(source) // NS) & U32
        if final == parsed.mtime:
            return None
        return Patch(
            parsed.mtime_offset,
            struct.pack("<I", final),
            f"header mtime {parsed.mtime} -> {final}",
        )

    def _to_checked_hash(self, parsed: pycheader.Header, source: Entry) -> bool:
        mode = self.opts["checked_hash"]
        if mode == "never" or not parsed.known_cpython:
            return False
        return mode == "all" or source.size == 0


def _source_index(inventory: Inventory, entry: Entry) -> int | str:
    """Index of the regular file the import system would stat for this cache, or why none."""
    located = source_of(entry.rel)
    if located is None:
        return "not named like a bytecode cache of a module"
    rel, legacy = located
    index = inventory.resolve(rel)
    if index is None or not inventory.entries[index].is_file:
        if legacy:
            return "no source beside it: a sourceless module, loaded without a check"
        return "no source: an orphaned cache the import system never uses"
    return index


def _stale_reason(parsed: pycheader.Header, source: Entry) -> str:
    seconds = (source.mtime_ns // NS) & U32
    if parsed.mtime != seconds:
        return f"header mtime {parsed.mtime} != source mtime {seconds}"
    if parsed.source_size is not None and parsed.source_size != source.size & U32:
        return f"header size {parsed.source_size} != source size {source.size}"
    return ""
