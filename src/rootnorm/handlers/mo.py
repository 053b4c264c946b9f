"""mo handler: gettext catalogues, the header entry's two dates to the target time.

The dates are rewritten in place, as a Patch (one write of a few bytes), when they lie close
together, as they do in every header gettext writes; else the file is rewritten.
"""

from __future__ import annotations

from rootnorm.decisions import Decision, Leave, Outcome, Patch, Rewrite
from rootnorm.handlers.archive import ArchiveHandler
from rootnorm.handlers.base import Item, Option
from rootnorm.inventory import Inventory

MAX_PATCH = 64  # POT-Creation-Date and PO-Revision-Date on adjacent lines: about 60 bytes


class MoHandler(ArchiveHandler):
    name = "mo"
    summary = "gettext catalogues: header POT-Creation-Date and PO-Revision-Date to the target time"
    options = (Option("suffixes", (".mo", ".gmo"), "file names to look at"),)
    patches_in_place = True

    def costly(self, inventory: Inventory, index: int) -> bool:
        return False  # a few small reads and one small write, like a pyc header

    def inspect(self, item: Item) -> Decision:
        from rootnorm.archives.plan import Unsupported
        from rootnorm.formats import mofmt

        size = item.entry.size
        with item.reader() as src:
            try:
                change = mofmt.edit(src, size, self.settings.target_seconds)
            except Unsupported as exc:
                return Leave(Outcome.UNSUPPORTED, f"mo: {exc}")
        if change is None:
            return None
        what = "mo: " + ", ".join(change.fields)
        if len(change.data) <= MAX_PATCH:
            return Patch(change.offset, change.data, what)
        return Rewrite(mofmt.plan_of(change, size).write, what)
