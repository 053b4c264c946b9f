"""mo handler: gettext catalogues, the header entry's two dates to the target time."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler, suffixes
from rootnorm.handlers.base import Option, Settings

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


class MoHandler(ArchiveHandler):
    name = "mo"
    summary = "gettext catalogues: header POT-Creation-Date and PO-Revision-Date to the target time"
    options = (Option("suffixes", (".mo", ".gmo"), "file names to look at"),)

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes = suffixes(self.opts["suffixes"])

    def make_planner(self) -> Planner:
        from rootnorm.formats import mofmt

        return partial(mofmt.plan, target=self.settings.target_seconds)
