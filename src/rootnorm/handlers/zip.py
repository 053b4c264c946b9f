"""zip handler: zip, jar, war, ear, wheel, egg, zipapp, apk and jmod archives made canonical."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from rootnorm.handlers.archive import ArchiveHandler, suffixes
from rootnorm.handlers.base import Option, Settings

if TYPE_CHECKING:
    from rootnorm.archives.decide import Planner

DEFAULT_SUFFIXES = (".zip", ".jar", ".war", ".ear", ".whl", ".egg", ".pyz", ".apk", ".jmod")


class ZipHandler(ArchiveHandler):
    name = "zip"
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

    def make_planner(self) -> Planner:
        from rootnorm.archives import zipfmt

        drop = self.opts["manifest_drop"]
        assert isinstance(drop, tuple)
        return partial(
            zipfmt.plan,
            target=self.settings.target_seconds,
            opts=zipfmt.Options(bool(self.opts["canonical_order"]), tuple(map(str, drop))),
        )
