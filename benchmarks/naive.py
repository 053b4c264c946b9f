#!/usr/bin/env python3
"""A naive fix in the style of the inline script Fedora once shipped for ostree images.

Walks ``ROOT/usr`` with ``os.walk`` for ``__pycache__/*.cpython-*.pyc`` and writes 4 zero bytes
at offset 8 (offset 4 below magic 3390) whenever the flags word is 0, without looking at the
source.  File mtimes are left to ostree.  It reproduces that script's known faults on purpose:
the 3390 cut-off is wrong (3390/3391 have the 12-byte layout, so their size field gets zeroed),
stale pycs are made to look valid, and hard-linked opt levels are rewritten once per name.
For comparison only; never use it on a real tree.

Usage: ``python3 -B benchmarks/naive.py ROOT...`` (several roots: the copies of a scaled tree)
"""

from __future__ import annotations

import fnmatch
import os
import struct
import sys


def fix(path: str) -> bool:
    with open(path, "r+b") as f:
        header = f.read(16)
        if len(header) < 16:
            return False
        magic = struct.unpack("<H", header[:2])[0]
        if magic < 3390:
            f.seek(4)
        else:
            (flags,) = struct.unpack("<I", header[4:8])
            if flags != 0:
                return False
            f.seek(8)
        f.write(b"\0\0\0\0")
    return True


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: naive.py ROOT...", file=sys.stderr)
        return 2
    fixed = 0
    for root in argv:
        for dirpath, _dirnames, filenames in os.walk(os.path.join(root, "usr")):
            if os.path.basename(dirpath) != "__pycache__":
                continue
            for name in fnmatch.filter(filenames, "*.cpython-*.pyc"):
                fixed += fix(os.path.join(dirpath, name))
    print(f"naive: {fixed} pyc headers written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
