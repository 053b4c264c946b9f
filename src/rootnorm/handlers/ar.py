"""ar handler: static libraries (and .deb packages when asked), member headers canonical."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler
from rootnorm.handlers.base import Option, Settings

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


class ArHandler(ArchiveHandler):
    name = "ar"
    summary = "ar archives (.a; .deb if asked): member mtime to the target, uid/gid 0, mode 644/755"
    magics = (b"!<arch>\n", b"!<thin>\n")
    options = (
        Option("suffixes", (".a",), "file names to look at"),
        Option("deb", False, "also normalise .deb packages (ar archives holding tarballs)"),
    )

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes += (b".deb",) if self.opts["deb"] else ()

    def make_planner(self) -> Planner:
        from rootnorm.archives import arfmt

        return partial(arfmt.plan, target=self.settings.target_seconds)
