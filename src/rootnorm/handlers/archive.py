"""What the archive handlers share: chosen by name suffix, decided by a format's planner."""

from __future__ import annotations

from rootnorm.archives.decide import Planner, decide
from rootnorm.decisions import Decision
from rootnorm.handlers.base import Handler, Item, name_key
from rootnorm.inventory import Entry


class ArchiveHandler(Handler):
    """Subclasses set `suffixes` (lower-case bytes) and `planner` in their __init__."""

    uses_clock = True
    suffixes: tuple[bytes, ...]
    planner: Planner

    def name_keys(self) -> tuple[bytes, ...]:
        return tuple(name_key(suffix) for suffix in self.suffixes)

    def wants(self, entry: Entry) -> bool:
        return entry.name.lower().endswith(self.suffixes)

    def inspect(self, item: Item) -> Decision:
        return decide(self.name, self.planner, item)
