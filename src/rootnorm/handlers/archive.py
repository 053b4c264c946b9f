"""What the archive handlers share: chosen by name suffix, decided by a format's planner.
The mo, png and javadoc handlers are built the same way over `rootnorm.formats`.

The format code (and zlib, mmap, calendar) is imported when the first archive is inspected,
not when a profile lists the handler: a tree without archives never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from rootnorm.decisions import Decision, Leave, Outcome
from rootnorm.handlers.base import Handler, Item, Settings, name_key
from rootnorm.inventory import Entry, Inventory

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner


def suffixes(value: object) -> tuple[bytes, ...]:
    """A `suffixes` option (a tuple of str, validated by the profile) as lower-case bytes."""
    assert isinstance(value, tuple)
    return tuple(str(suffix).lower().encode() for suffix in value)


class ArchiveHandler(Handler):
    """Subclasses set `suffixes` (lower-case bytes) in __init__ and define `make_planner`.

    A file named like an archive is not one (a text file, a linker script) when a byte of its
    head contradicts every magic of the format in `magics`: it is skipped, not reported as
    unsupported. A file whose head agrees with a magic as far as it goes (an empty file, a cut
    one) is an archive, maybe broken, and goes to the planner, which says what is wrong.
    """

    uses_clock = True
    magics: ClassVar[tuple[bytes, ...]] = ()  # empty: the planner alone decides
    suffixes: tuple[bytes, ...]
    _planner: Planner | None = None

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes = suffixes(self.opts["suffixes"])  # every archive handler has the option

    def make_planner(self) -> Planner:
        """The format's planner with this run's settings (imports the format code)."""
        raise NotImplementedError

    def name_keys(self) -> tuple[bytes, ...] | None:
        return tuple(name_key(suffix) for suffix in self.suffixes)

    def wants(self, entry: Entry) -> bool:
        # A directory is never an archive (an unpacked .egg, an exploded .war)
        return not entry.is_dir and entry.name.lower().endswith(self.suffixes)

    def costly(self, inventory: Inventory, index: int) -> bool:
        # However small: the parent decides the pyc headers meanwhile, so every archive a
        # worker takes is overlap.
        return True

    def inspect(self, item: Item) -> Decision:
        from rootnorm.archives.decide import decide

        if self.magics:
            head = item.head()
            if head and not any(magic.startswith(head[: len(magic)]) for magic in self.magics):
                return Leave(Outcome.SKIPPED, f"not {self.name}: no {self.name} magic")
        if self._planner is None:
            self._planner = self.make_planner()
        return decide(self.name, self._planner, item)
