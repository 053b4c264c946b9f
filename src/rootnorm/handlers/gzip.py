"""gzip handler: member MTIME to the target time, stored file name and header CRC dropped."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler, suffixes
from rootnorm.handlers.base import Option, Settings

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


class GzipHandler(ArchiveHandler):
    name = "gzip"
    summary = "gzip files: member MTIME to the target time, stored name and header CRC dropped"
    magics = (b"\x1f\x8b",)
    options = (
        Option("suffixes", (".gz", ".tgz", ".svgz", ".emz", ".dz"), "file names to look at"),
    )

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes = suffixes(self.opts["suffixes"])

    def make_planner(self) -> Planner:
        from rootnorm.archives import gzipfmt

        return partial(gzipfmt.plan, target=self.settings.target_seconds)
