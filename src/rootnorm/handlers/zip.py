"""zip handler: zip, jar, war, ear, wheel, egg, zipapp, apk and jmod archives made canonical."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from rootnorm.archives import zipfmt
from rootnorm.archives.decide import decide, suffixes
from rootnorm.decisions import Decision
from rootnorm.handlers.base import Handler, Item, Option, Settings, name_key
from rootnorm.inventory import Entry

DEFAULT_SUFFIXES = (".zip", ".jar", ".war", ".ear", ".whl", ".egg", ".pyz", ".apk", ".jmod")


class ZipHandler(Handler):
    name = "zip"
    uses_clock = True
    summary = (
        "zip family (jar, wheel, egg, zipapp...): entry times, owners, permissions and order "
        "canonical, build-host manifest lines dropped, zipimport pycs kept valid"
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
    )

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.suffixes = suffixes(self.opts["suffixes"])
        drop = self.opts["manifest_drop"]
        assert isinstance(drop, tuple)
        self.planner = partial(
            zipfmt.plan,
            target=settings.target_seconds,
            opts=zipfmt.Options(bool(self.opts["canonical_order"]), tuple(map(str, drop))),
        )

    def name_keys(self) -> tuple[bytes, ...]:
        return tuple(name_key(suffix) for suffix in self.suffixes)

    def wants(self, entry: Entry) -> bool:
        return entry.name.lower().endswith(self.suffixes)

    def inspect(self, item: Item) -> Decision:
        return decide("zip", self.planner, item)
