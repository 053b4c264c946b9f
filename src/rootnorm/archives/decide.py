"""From a planner to a handler decision: the glue every archive handler shares."""

from __future__ import annotations

import io
import mmap
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import BinaryIO, Union, cast

from rootnorm.archives.plan import NotThisFormat, Plan, Unsupported
from rootnorm.decisions import Decision, Leave, Outcome, Rewrite
from rootnorm.handlers.base import Item

Planner = Callable[[BinaryIO, int], Union[Plan, None]]  # None: proven unchanged, cheaply


READ_LIMIT = 256 << 10  # smaller archives are read whole: cheaper than setting up a map
MAP_LIMIT = 64 << 20  # larger archives are streamed, so memory stays bounded


def _source(item: Item) -> AbstractContextManager[BinaryIO]:
    """The archive for planning: in memory when small (planners seek a lot), else a reader."""
    size = item.entry.size
    if size <= READ_LIMIT:
        return io.BytesIO(item.pread(size, 0))
    if size <= MAP_LIMIT:
        mapped = mmap.mmap(item.fd, size, access=mmap.ACCESS_READ)
        return cast(AbstractContextManager[BinaryIO], mapped)
    return item.reader()


def decide(fmt: str, planner: Planner, item: Item, by_content: bool = False) -> Decision:
    """Rewrite when the plan's output differs from the file, Leave when it cannot be planned
    (nothing at all when a file found `by_content` turns out not to be the format)."""
    size = item.entry.size
    with _source(item) as src:
        try:
            plan = planner(src, size)
        except NotThisFormat as exc:
            return None if by_content else Leave(Outcome.UNSUPPORTED, f"{fmt}: {exc}")
        except Unsupported as exc:
            return Leave(Outcome.UNSUPPORTED, f"{fmt}: {exc}")
        if plan is None or plan.same_as(src, size):
            return None
    return Rewrite(plan.write, plan.describe(fmt))
