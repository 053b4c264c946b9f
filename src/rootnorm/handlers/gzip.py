"""gzip handler: member MTIME to the target time, stored file name and header CRC dropped."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler
from rootnorm.handlers.base import Option

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


class GzipHandler(ArchiveHandler):
    name = "gzip"
    summary = "gzip files: member MTIME to the target time, stored name and header CRC dropped"
    magics = (b"\x1f\x8b",)
    options = (
        Option("suffixes", (".gz", ".tgz", ".svgz", ".emz", ".dz"), "file names to look at"),
    )

    def make_planner(self) -> Planner:
        from rootnorm.archives import gzipfmt

        return partial(gzipfmt.plan, target=self.settings.target_seconds)
