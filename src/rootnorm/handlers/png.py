"""png handler: tIME and date-like text chunks to the target time, CRCs recomputed."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler, suffixes
from rootnorm.handlers.base import Option, Settings

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


class PngHandler(ArchiveHandler):
    name = "png"
    summary = "PNG images: tIME and date text chunks (date:create, ...) to the target time"
    options = (Option("suffixes", (".png",), "file names to look at"),)

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes = suffixes(self.opts["suffixes"])

    def make_planner(self) -> Planner:
        from rootnorm.formats import pngfmt

        return partial(pngfmt.plan, target=self.settings.target_seconds)
