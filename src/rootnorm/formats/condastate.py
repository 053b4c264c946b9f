"""conda's repodata cache state (`<key>.info.json`, mamba's `<key>.state.json`): the cached
`<key>.json`'s mtime and size as the client recorded them.

conda (conda/gateways/repodata RepodataCache.load) discards the cache's HTTP validators
(etag, mod, cache_control) unless `mtime_ns` equals the cached file's st_mtime_ns and `size`
its st_size, so it downloads the repodata again (CEP "repodata state"). Only the number after
a top-level `"mtime_ns"` (and `"mtime"`, seconds, when present) is rewritten; every other byte
stays. A key spelled with escapes, or present more than once, makes the file unsupported.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

NS = 1_000_000_000
NUMBER = rb"(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
KEYS = {
    "mtime_ns": re.compile(rb'"mtime_ns"\s*:\s*' + NUMBER),
    "mtime": re.compile(rb'"mtime"\s*:\s*' + NUMBER),
}


class NotAState(ValueError):
    """Not a repodata state file whose mtime rootnorm can rewrite byte by byte."""


class State(NamedTuple):
    mtime_ns: int
    size: int
    spans: dict[str, tuple[int, int]]  # key -> where its number lies


def parse(data: bytes) -> State:
    """The recorded mtime and size, and where the mtime numbers lie; raises NotAState."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise NotAState(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise NotAState("not a JSON object")
    mtime_ns, size = document.get("mtime_ns"), document.get("size")
    if type(mtime_ns) is not int or type(size) is not int:
        raise NotAState("no integer mtime_ns and size")
    spans: dict[str, tuple[int, int]] = {}
    for key, pattern in KEYS.items():
        if key not in document:
            continue
        found = list(pattern.finditer(data))
        if len(found) != 1 or json.loads(found[0].group(1)) != document[key]:
            raise NotAState(f'"{key}" is not written once, plainly, at the top level')
        if isinstance(document[key], bool) or not isinstance(document[key], (int, float)):
            raise NotAState(f'"{key}" is not a number')
        spans[key] = found[0].span(1)
    return State(mtime_ns, size, spans)


def with_mtime(data: bytes, state: State, mtime_ns: int) -> bytes:
    """The state file recording `mtime_ns`, every other byte kept."""
    out = bytearray(data)
    for key, (start, end) in sorted(state.spans.items(), key=lambda item: -item[1][0]):
        if key == "mtime_ns":
            value = b"%d" % mtime_ns
        elif isinstance(json.loads(data[start:end]), int):
            value = b"%d" % (mtime_ns // NS)
        else:
            value = repr(mtime_ns / NS).encode()
        out[start:end] = value
    return bytes(out)
