"""The mtime policy applied to every entry: files, directories and symlinks themselves."""

from __future__ import annotations

from rootnorm.decisions import Decision
from rootnorm.handlers.base import Handler, Item
from rootnorm.inventory import Entry


class MtimeHandler(Handler):
    name = "mtime"
    summary = "Every entry's mtime follows the profile's policy (zero, clamp or set); runs last"
    whole_tree = True

    def wants(self, entry: Entry) -> bool:
        return False  # not a per-file content handler: the pipeline calls new_mtime instead

    def inspect(self, item: Item) -> Decision:
        return None

    def new_mtime(self, entry: Entry) -> int | None:
        """The mtime (ns) the entry must get, or None when it already has it."""
        final = self.settings.clock.final_ns(entry.mtime_ns)
        return None if final == entry.mtime_ns else final
