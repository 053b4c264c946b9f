"""png handler: tIME and date-like text chunks to the target time, CRCs recomputed."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler
from rootnorm.handlers.base import Option

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


class PngHandler(ArchiveHandler):
    name = "png"
    summary = "PNG images: tIME and date text chunks (date:create, ...) to the target time"
    options = (Option("suffixes", (".png",), "file names to look at"),)

    def make_planner(self) -> Planner:
        from rootnorm.formats import pngfmt

        return partial(pngfmt.plan, target=self.settings.target_seconds)
