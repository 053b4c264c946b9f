"""zip handler: zip, jar, war, ear, wheel, egg, zipapp, apk and jmod archives made canonical,
and (`by_content`) zips of any other name, recognised by their first bytes."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from rootnorm.decisions import Decision
from rootnorm.handlers.archive import ArchiveHandler
from rootnorm.handlers.base import Item, Option, Settings, name_key
from rootnorm.inventory import Entry, Inventory

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner

DEFAULT_SUFFIXES = (".zip", ".jar", ".war", ".ear", ".whl", ".egg", ".pyz", ".apk", ".jmod")
LOCAL_MAGIC = b"PK\x03\x04"
SMALLEST = 22 + 30  # an end record and one local header
# Names most files of a tree have, whose formats are never a zip: not even opened to look.
NOT_ZIP = frozenset(
    b".a .bc .c .cc .cfg .cmake .conf .cpp .crt .css .cuh .debug .desktop .gz .h .hpp .html "
    b".in .inl .js .json .la .md .mo .mod .msg .pc .ph .php .pl .pm .png .po .pom .py .pyc .pyi "
    b".rb .rst .service .sh .so .sql .svg .target .tcl .txt .vim .xml .xz .yaml .yml .zst".split()
)


class ZipHandler(ArchiveHandler):
    name = "zip"
    summary = (
        "zip family (jar, wheel, egg, zipapp, jmod...): entry times, owners, permissions and "
        "order canonical, build-host manifest lines dropped, zipimport pycs kept valid"
    )
    options = (
        Option("suffixes", DEFAULT_SUFFIXES, "file names to look at"),
        Option(
            "canonical_order",
            True,
            "sort entries by name (mimetype, META-INF/ and the jar manifest first)",
        ),
        Option(
            "manifest_drop",
            ("Built-By", "Bnd-LastModified"),
            "jar manifest attributes to remove (never in signed jars)",
        ),
        Option(
            "by_content",
            False,
            "also files of other names that start with a zip local header and end with a valid "
            "end record (.epub .odt .xpi .npz .ozx...); sorted only when their entries show a "
            "jar, EPUB/ODF or OOXML, else their order and alignment are kept",
        ),
    )

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.by_content = bool(self.opts["by_content"])
        self._content_planner: Planner | None = None

    def name_keys(self) -> tuple[bytes, ...] | None:
        return None if self.by_content else super().name_keys()

    def wants(self, entry: Entry) -> bool:
        if entry.is_dir:
            return False  # never an archive (an unpacked .egg, an exploded .war)
        if entry.name.lower().endswith(self.suffixes):
            return True
        return (
            self.by_content
            and entry.is_file
            and entry.size >= SMALLEST
            and not _never_zip(name_key(entry.name))
        )

    def costly(self, inventory: Inventory, index: int) -> bool:
        # A file wanted for its content is a head read, usually no zip: the parent's work.
        return inventory.entries[index].name.lower().endswith(self.suffixes)

    def inspect(self, item: Item) -> Decision:
        if item.entry.name.lower().endswith(self.suffixes):
            return super().inspect(item)
        if not item.head().startswith(LOCAL_MAGIC):
            return None
        from rootnorm.archives.decide import decide

        if self._content_planner is None:
            self._content_planner = self.make_planner(by_content=True)
        return decide(self.name, self._content_planner, item, by_content=True)

    def make_planner(self, by_content: bool = False) -> Planner:
        from rootnorm.archives import zipfmt

        drop = self.opts["manifest_drop"]
        assert isinstance(drop, tuple)
        opts = zipfmt.Options(bool(self.opts["canonical_order"]), tuple(map(str, drop)), by_content)
        return partial(zipfmt.plan, target=self.settings.target_seconds, opts=opts)


def _never_zip(key: bytes) -> bool:
    """A name key of a format that is never a zip, or a version number (`libz.so.1`)."""
    return key in NOT_ZIP or (key[:1] == b"." and key[1:].isdigit())
