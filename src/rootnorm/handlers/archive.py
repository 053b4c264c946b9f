"""What the archive handlers share: chosen by name suffix, decided by a format's planner.
The mo, png and javadoc handlers are built the same way over `rootnorm.formats`.

The format code (and zlib, mmap, calendar) is imported when the first archive is inspected,
not when a profile lists the handler: a tree without archives never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rootnorm.decisions import Decision
from rootnorm.handlers.base import Handler, Item, name_key
from rootnorm.inventory import Entry, Inventory

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


def suffixes(value: object) -> tuple[bytes, ...]:
    """A `suffixes` option (a tuple of str, validated by the profile) as lower-case bytes."""
    assert isinstance(value, tuple)
    return tuple(str(suffix).lower().encode() for suffix in value)


class ArchiveHandler(Handler):
    """Subclasses set `suffixes` (lower-case bytes) in __init__ and define `make_planner`."""

    uses_clock = True
    suffixes: tuple[bytes, ...]
    _planner: Planner | None = None

    def make_planner(self) -> Planner:
        """The format's planner with this run's settings (imports the format code)."""
        raise NotImplementedError

    def name_keys(self) -> tuple[bytes, ...] | None:
        return tuple(name_key(suffix) for suffix in self.suffixes)

    def wants(self, entry: Entry) -> bool:
        return entry.name.lower().endswith(self.suffixes)

    def costly(self, inventory: Inventory, index: int) -> bool:
        # However small: the parent decides the pyc headers meanwhile, so every archive a
        # worker takes is overlap.
        return True

    def inspect(self, item: Item) -> Decision:
        from rootnorm.archives.decide import decide

        if self._planner is None:
            self._planner = self.make_planner()
        return decide(self.name, self._planner, item)
