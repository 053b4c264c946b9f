"""Whether a bytecode cache holds what its source compiles to now.

The evidence a timestamp pyc carries (its source's mtime) is gone when the tree is an ostree
checkout (every .py has mtime 0, empty files the checkout time: rpm-ostree's unified core,
finalize.d) or when a source was merely touched. Content is then the only sound evidence.
"""

from __future__ import annotations

import importlib.util
import marshal
import re
import warnings

from rootnorm.pyc.marshalcheck import problem

_OPT_LEVEL = re.compile(rb"\.opt-([12])\.py[co]$")


def optimization(name: bytes) -> int:
    """The -O level a cache file name says it was compiled with."""
    match = _OPT_LEVEL.search(name)
    return int(match.group(1)) if match else 0


def same_code(pyc: bytes, header_size: int, source: bytes, optimize: int) -> bool | None:
    """True/False when this interpreter can tell; None for another Python's bytecode.

    Code objects compare everything but the file name (bytecode, constants, names, line
    tables, nested code), so equal means the cache runs exactly what the source says.
    marshal is trusted only with a stream `marshalcheck` proved bounded; that bound covers the
    comparison too. compile's cost is bounded by the source's size, and the warnings the
    tree's code raises (SyntaxWarning for "\\d"...) are not rootnorm's to show.
    """
    if pyc[:4] != importlib.util.MAGIC_NUMBER:
        return None
    if problem(pyc, header_size) is not None:
        return False
    try:
        cached = marshal.loads(memoryview(pyc)[header_size:])
    except (ValueError, TypeError, EOFError, SystemError):  # refused by the code constructor
        return False
    try:
        name = cached.co_filename
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fresh = compile(source, name, "exec", dont_inherit=True, optimize=optimize)
    except Exception:  # a source that no longer compiles, or too complex to
        return False
    try:
        return bool(cached == fresh)
    except RecursionError:
        return False
