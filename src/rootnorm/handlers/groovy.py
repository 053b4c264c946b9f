"""Groovy's compile-time field in jars: reported with the jar and the classes (a finding).

The field's value is the compile time, inside the class's bytecode: rewriting it would change
what the class holds, so it is left to the build (compile with Groovy 2.5+, which dropped it).
"""

from __future__ import annotations

from rootnorm.decisions import Decision, Finding, Findings, Leave, Outcome
from rootnorm.handlers.base import Handler, Item, name_key
from rootnorm.inventory import Entry, Inventory

SUFFIXES = (b".jar", b".war", b".ear")
SHOWN = 5  # class names in a finding's detail; the rest are counted
ADVICE = (
    "Compile with Groovy 2.5 or later (it no longer adds the field), or rebuild the jar at a "
    "fixed time: the field holds each build's compile time in ms."
)


class GroovyHandler(Handler):
    name = "groovy"
    summary = "Report classes in jars with Groovy's __timeStamp__239_neverHappen<ms> field"

    def name_keys(self) -> tuple[bytes, ...]:
        return tuple(name_key(suffix) for suffix in SUFFIXES)

    def wants(self, entry: Entry) -> bool:
        return entry.is_file and entry.name.lower().endswith(SUFFIXES)

    def costly(self, inventory: Inventory, index: int) -> bool:
        return True  # inflates the start of every class

    def inspect(self, item: Item) -> Decision:
        from rootnorm.archives.plan import Unsupported
        from rootnorm.formats import groovy

        with item.reader() as stream:
            try:
                found = groovy.timestamped_classes(stream, item.entry.size)
            except Unsupported as exc:
                return Leave(Outcome.UNSUPPORTED, f"not scanned for Groovy classes: {exc}")
        if not found:
            return None
        names = ", ".join(f"{cls} ({field})" for cls, field in found[:SHOWN])
        more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        detail = f"{len(found)} class(es) with a Groovy compile time: {names}{more}"
        return Findings((Finding("groovy-timestamp", detail, ADVICE),))
