"""gzip handler: member MTIME to the target time, stored file name and header CRC dropped."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from rootnorm.archives import gzipfmt
from rootnorm.archives.decide import decide, suffixes
from rootnorm.decisions import Decision
from rootnorm.handlers.base import Handler, Item, Option, Settings, name_key
from rootnorm.inventory import Entry


class GzipHandler(Handler):
    name = "gzip"
    uses_clock = True
    summary = "gzip files: member MTIME to the target time, stored name and header CRC dropped"
    options = (
        Option("suffixes", (".gz", ".tgz", ".svgz", ".emz", ".dz"), "file names to look at"),
    )

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes = suffixes(self.opts["suffixes"])
        self.planner = partial(gzipfmt.plan, target=settings.target_seconds)

    def name_keys(self) -> tuple[bytes, ...]:
        return tuple(name_key(suffix) for suffix in self.suffixes)

    def wants(self, entry: Entry) -> bool:
        return entry.name.lower().endswith(self.suffixes)

    def inspect(self, item: Item) -> Decision:
        return decide("gzip", self.planner, item)
