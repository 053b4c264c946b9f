"""conda/mamba repodata caches: the state file records the final mtime of its cached json.

conda keeps a cache's HTTP validators only while the state's `mtime_ns` and `size` equal the
cached `<key>.json`'s; the mtime policy moves that file's mtime, so without this the client
downloads every channel's repodata again (on a read-only image, at every run).
"""

from __future__ import annotations

from rootnorm.decisions import Decision, Leave, Outcome
from rootnorm.handlers.base import Handler, Item
from rootnorm.handlers.replace import patch_or_rewrite
from rootnorm.inventory import Entry

SUFFIXES = (b".info.json", b".state.json")
MAX_SIZE = 1 << 20


def _cache_rel(rel: bytes) -> bytes:
    """The cached json a state file describes: `<key>.info.json` -> `<key>.json`."""
    for suffix in SUFFIXES:
        if rel.endswith(suffix):
            return rel[: -len(suffix)] + b".json"
    raise ValueError(rel)


class CondaHandler(Handler):
    name = "conda"
    summary = "conda/mamba repodata cache state: mtime_ns follows the cached json's final mtime"
    patches_in_place = True

    def name_keys(self) -> tuple[bytes, ...]:
        return (b".json",)

    def wants(self, entry: Entry) -> bool:
        return entry.is_file and 0 < entry.size <= MAX_SIZE and entry.name.endswith(SUFFIXES)

    def inspect(self, item: Item) -> Decision:
        from rootnorm.formats import condastate  # only for a tree that has such a file

        cache_index = item.inventory.by_rel.get(_cache_rel(item.entry.rel), -1)
        cache = item.inventory.entries[cache_index] if cache_index >= 0 else None
        if cache is None or not cache.is_file:
            return None  # a json of another kind, not a repodata state
        data = item.pread(item.entry.size, 0)
        try:
            state = condastate.parse(data)
        except condastate.NotAState as exc:
            return Leave(Outcome.UNSUPPORTED, f"repodata state rootnorm cannot rewrite: {exc}")
        final = self.settings.final_mtime_ns(cache)
        if state.mtime_ns == final and state.size == cache.size:
            return None
        if (state.mtime_ns, state.size) != (cache.mtime_ns, cache.size):
            return Leave(
                Outcome.STALE,
                f"records mtime_ns {state.mtime_ns} and size {state.size}, the cache has "
                f"{cache.mtime_ns} and {cache.size}: conda already discards it",
            )
        new = condastate.with_mtime(data, state, final)
        # the cache keeps its mtime if this state cannot be written
        return patch_or_rewrite(data, new, f"mtime_ns {state.mtime_ns} -> {final}", cache_index)
