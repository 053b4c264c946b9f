"""Turning a file's whole new content into the cheapest safe decision."""

from __future__ import annotations

from typing import BinaryIO

from rootnorm.decisions import Patch, Rewrite

SECTOR = 512  # an aligned sector is written whole or not at all: small enough to patch in place


def patch_or_rewrite(
    old: bytes, new: bytes, what: str, anchor: int | None = None
) -> Patch | Rewrite:
    """A Patch when `new` has `old`'s length and every difference lies in one aligned
    sector, else a Rewrite that writes `new`. `old != new`. `anchor`: see Patch.anchor."""
    if len(old) == len(new):
        first = next(i for i in range(len(old)) if old[i] != new[i])
        last = next(i for i in range(len(old) - 1, -1, -1) if old[i] != new[i])
        if first // SECTOR == last // SECTOR:
            return Patch(first, new[first : last + 1], what, anchor=anchor)

    def produce(src: BinaryIO, dst: BinaryIO) -> None:
        dst.write(new)

    return Rewrite(produce, what, anchor)
