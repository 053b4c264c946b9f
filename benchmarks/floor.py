#!/usr/bin/env python3
"""The physical floor: only the system calls an ostree-profile run cannot avoid.

One ``os.scandir`` walk; an lstat of every entry; for each regular ``*.pyc`` one open, one
16-byte read and, when the header mtime is not 0, one 4-byte pwrite; a ``utime`` (never
following symlinks) of every entry whose mtime is not already 0.  No safety checks at all: no
source lookup, no validity check, no hard-link bookkeeping, no xattrs.  Not a tool, a yardstick.

Usage: ``python3 -B benchmarks/floor.py [--exclude NAME ...] ROOT``; prints what it did.
``--exclude`` skips a top-level directory, to walk what a profile walks (ostree: run, tmp, var).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys

ZERO4 = bytes(4)


def patch_pyc(path: str) -> bool:
    """Zero the timestamp of a timestamp pyc; return True when 4 bytes were written."""
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        head = os.read(fd, 16)
        if len(head) < 8:
            return False
        magic = int.from_bytes(head[:2], "little")
        if magic >= 3392:  # PEP 552: flags@4, mtime@8 unless hash-based
            if head[4] & 1:
                return False
            offset = 8
        else:
            offset = 4
        if head[offset : offset + 4] == ZERO4:
            return False
        os.pwrite(fd, ZERO4, offset)
        return True
    finally:
        os.close(fd)


def run(root: str, exclude: frozenset[str]) -> tuple[int, int, int]:
    """Walk ``root`` except the top-level names in ``exclude``; return (entries, pycs written,
    mtimes set)."""
    entries = written = utimes = 0
    skip = {os.path.join(root, name) for name in exclude}
    stack = [root]
    utime = os.utime
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                info = entry.stat(follow_symlinks=False)
                entries += 1
                mode = info.st_mode
                changed = False
                if stat.S_ISDIR(mode):
                    if entry.path not in skip:
                        stack.append(entry.path)
                elif stat.S_ISREG(mode) and entry.name.endswith(".pyc"):
                    changed = patch_pyc(entry.path)
                    written += changed
                if changed or info.st_mtime_ns != 0:
                    utime(entry.path, ns=(info.st_atime_ns, 0), follow_symlinks=False)
                    utimes += 1
    info = os.lstat(root)
    if info.st_mtime_ns != 0:
        utime(root, ns=(info.st_atime_ns, 0), follow_symlinks=False)
        utimes += 1
    return entries, written, utimes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="the physical floor of an ostree-profile run")
    parser.add_argument("--exclude", action="append", default=[], metavar="NAME")
    parser.add_argument("root")
    args = parser.parse_args(argv)
    entries, written, utimes = run(args.root, frozenset(args.exclude))
    print(f"floor: {entries} entries, {written} pyc headers written, {utimes} mtimes set")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
