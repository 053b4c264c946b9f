"""Bytecode caches: a valid timestamp pyc gets its source's FINAL mtime; a stale one stays stale."""

from __future__ import annotations

import struct
import sys
from collections.abc import Mapping

from rootnorm.clock import NS
from rootnorm.decisions import Decision, Finding, Findings, Leave, Outcome, Patch, Remove
from rootnorm.handlers.base import Handler, Item, Option, Settings
from rootnorm.inventory import Entry, Inventory
from rootnorm.pyc import header as pycheader
from rootnorm.pyc.siphash import source_hash
from rootnorm.pyc.source import source_of
from rootnorm.pyc.verify import optimization, same_code

U32 = 0xFFFFFFFF
OWN_TAG = f".{sys.implementation.cache_tag}.".encode()  # b".cpython-311.": hashed in C
EMPTY_SOURCE_PRE37 = Finding(
    "pyc-empty-source-pre37",
    "the source is empty and this Python (< 3.7) has no hash-based pycs: ostree checks empty "
    "files out with the checkout time, so this cache will be stale there",
    "nothing to do (compiling an empty module costs nothing), or remove the cache",
)


class PycHandler(Handler):
    name = "pyc"
    summary = "Valid timestamp pycs get their source's final mtime in the header (PEP 552 aware)"
    patches_in_place = True
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
            "verify",
            True,
            "When a pyc's header disagrees with its source's mtime (mtimes lost in an ostree "
            "checkout, a touched source), compare its code with a fresh compile of the source "
            "(pycs of the running Python; an empty source always) and treat it as valid if equal",
        ),
        Option(
            "stale",
            "keep",
            "What to do with a pyc that is already stale: 'keep' it and report it, or 'remove' it",
            ("keep", "remove"),
        ),
    )

    _last_hash: tuple[tuple[int, bytes], bytes] | None = None  # (source, magic) -> its hash

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        # cache index -> its source, as `costly` (--jobs) found it; `inspect` takes it from here
        self._found: dict[int, int | str] = {}

    def name_keys(self) -> tuple[bytes, ...]:
        return (b".pyc", b".pyo")

    def wants(self, entry: Entry) -> bool:
        return entry.name.endswith((b".pyc", b".pyo"))

    def costly(self, inventory: Inventory, index: int) -> bool:
        entry = inventory.entries[index]
        if OWN_TAG not in entry.name:
            # Every source read and hashed, in pure Python (the running one hashes in C).
            return self.opts["checked_hash"] == "all"
        # An ostree checkout (rpm-ostree's unified core, finalize.d) gives every source mtime 0
        # while caches keep their build time: each cache of this Python is then verified by
        # compiling its source.
        if not self.opts["verify"]:
            return False
        found = self._found[index] = _source_index(inventory, source_of(entry.rel))
        return isinstance(found, int) and not inventory.entries[found].mtime_ns

    def anchor(self, inventory: Inventory, index: int) -> int | None:
        found = _source_index(inventory, source_of(inventory.entries[index].rel))
        return found if isinstance(found, int) else None

    def inspect(self, item: Item) -> Decision:
        parsed = pycheader.parse(item.head())
        if isinstance(parsed, str):
            return Leave(Outcome.UNSUPPORTED, parsed)
        inventory = item.inventory
        index = item.index
        entry = inventory.entries[index]
        located = source_of(entry.rel)
        found = self._found.pop(index, None)
        if found is None:
            found = _source_index(inventory, located)
        if entry.nlink > 1 and not _one_source(inventory, index, located, found):
            return Leave(Outcome.UNSUPPORTED, "hard-linked with the caches of other sources")
        if isinstance(found, str):
            return Leave(Outcome.SKIPPED, found)
        source = inventory.entries[found]
        if parsed.hash_based:
            return Leave(Outcome.SKIPPED, "hash-based pyc: its validity does not depend on mtimes")
        final = (self.settings.final_mtime_ns(source) // NS) & U32
        stale = _stale_reason(parsed, source)
        proof = ""
        if stale and self.opts["verify"] and parsed.source_size == source.size & U32:
            same = _same_code(item, parsed, found)
            if same:
                stale, proof = "", " (source mtime differed; code verified identical)"
            elif same is None:
                stale += "; not verifiable here: another Python's bytecode"
        if stale and parsed.mtime == final and _vouched(inventory, entry, source):
            stale, proof = "", " (updated by a run that was stopped)"
        if stale:
            if self.opts["stale"] == "remove":
                return Remove(f"removed stale pyc: {stale}", found)
            if parsed.mtime == final and parsed.source_size in (None, source.size & U32):
                # the source's new mtime would make this stale pyc look valid: old code would run
                return Remove(
                    f"removed stale pyc: {stale}, and the source's final mtime {final} "
                    "would make it look valid",
                    found,
                )
            return Leave(Outcome.STALE, stale)
        if self._to_checked_hash(parsed, source):
            digest = self._source_hash(item, found, item.head()[:4])
            flags = struct.pack("<I", pycheader.CHECKED_HASH)
            return Patch(
                4, flags + digest, "timestamp pyc -> checked-hash pyc" + proof, anchor=found
            )
        finding = None
        if source.size == 0 and parsed.size < 16 and self.opts["checked_hash"] != "never":
            finding = EMPTY_SOURCE_PRE37  # no PEP 552 header: no way to a checked-hash pyc
        if final == parsed.mtime:
            return Findings((finding,)) if finding else None
        return Patch(
            parsed.mtime_offset,
            struct.pack("<I", final),
            f"header mtime {parsed.mtime} -> {final}" + proof,
            finding,
            found,
        )

    def _source_hash(self, item: Item, source_index: int, magic: bytes) -> bytes:
        """The source's hash for this magic; the last one is kept, because the opt-1 and opt-2
        caches of a module come right after its first (the walk sorts each directory)."""
        key = (source_index, magic)
        if self._last_hash is None or self._last_hash[0] != key:
            size = item.inventory.entries[source_index].size
            text = item.read_other(source_index) if size else b""
            self._last_hash = (key, source_hash(magic, text))
        return self._last_hash[1]

    def _to_checked_hash(self, parsed: pycheader.Header, source: Entry) -> bool:
        mode = self.opts["checked_hash"]
        if mode == "never" or not parsed.known_cpython:
            return False
        return mode == "all" or source.size == 0


def _same_code(item: Item, parsed: pycheader.Header, source_index: int) -> bool | None:
    if parsed.source_size == 0:
        return True  # sizes are equal: an empty module always compiles to the same code
    pyc = item.reader().read()
    source = item.read_other(source_index)
    return same_code(pyc, parsed.size, source, optimization(item.entry.name))


def _vouched(inventory: Inventory, entry: Entry, source: Entry) -> bool:
    """Whether a run that was stopped before it gave the source its final mtime had patched
    this cache's header while it was valid against the source as the source still is."""
    return inventory.evidence.vouched(entry.rel, source.rel, source.mtime_ns, source.size)


def _one_source(
    inventory: Inventory, index: int, located: tuple[bytes, bool] | None, found: int | str
) -> bool:
    """Whether every name of hard-linked cache `index` is a cache of the same source (`found`,
    at `located`): compileall --hardlink-dupes links the opt levels of one module."""
    entries = inventory.entries
    others = [entries[i].rel for i in inventory.names_of(index) if i != index]
    if all(source_of(rel) == located for rel in others):
        return True  # one source name: the usual case, no lookup needed
    return all(_source_index(inventory, source_of(rel)) == found for rel in others)


def _source_index(inventory: Inventory, located: tuple[bytes, bool] | None) -> int | str:
    """Index of the regular file the import system would stat for the cache whose
    `source_of` is `located`, or why none."""
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
