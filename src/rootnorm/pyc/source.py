"""Where the source of a bytecode cache lives, by the import system's naming rules."""

from __future__ import annotations

import re

# NAME.TAG.pyc, NAME.TAG.opt-N.pyc, and 3.2-3.4's NAME.TAG.pyo, inside __pycache__
_CACHED = re.compile(rb"^([^.]+)\.[^.]+(?:\.opt-[0-9A-Za-z]+)?\.py[co]$")


def source_of(rel: bytes) -> tuple[bytes, bool] | None:
    """(root-relative source path, is_legacy) for a cache path, or None if it is not one.

    `pkg/__pycache__/mod.cpython-311.opt-1.pyc` -> `pkg/mod.py`; legacy `pkg/mod.pyc` (Python 2,
    or a sourceless module) -> `pkg/mod.py`.
    """
    directory, _, name = rel.rpartition(b"/")
    parent, _, last = directory.rpartition(b"/")
    if last == b"__pycache__":
        match = _CACHED.match(name)
        if match is None:
            return None
        return (parent + b"/" if parent else b"") + match.group(1) + b".py", False
    if name.endswith((b".pyc", b".pyo")):
        return rel[:-1], True
    return None
