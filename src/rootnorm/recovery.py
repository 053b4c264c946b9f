"""Before a run changes anything: finish what a stopped run left, from its journal.

A run stopped by a signal, an OOM kill or a full disk leaves every file fully old or fully new,
but some work half done: its temp files, directory mtimes moved by them, a hard-link group half
moved to a new inode, pyc headers patched before their sources got their final mtimes. This
puts the tree back to the state the stopped run started from, as far as later decisions read it
(original mtimes, whole hard-link groups, no temp files), and hands the rest of the evidence
(`Evidence.vouches`) to the handlers, so one complete run ends exactly where an uninterrupted
run would have.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rootnorm import journal
from rootnorm.decisions import Outcome
from rootnorm.inventory import Inventory
from rootnorm.report import Record
from rootnorm.writer import Writer

LEFTOVER = "temp file of a stopped rootnorm run"


def recover(
    inventory: Inventory, writer: Writer, final_ns: Callable[[int], int] | None, check: bool
) -> list[Record]:
    """Undo and finish a stopped run's traces (under --check, only in memory) and say what
    was found. `final_ns` is the mtime policy, when the profile applies one."""
    records: list[Record] = []
    evidence = inventory.evidence
    restore: list[tuple[int, int]] = []
    for rel, dir_index in inventory.journals:
        name = rel[rel.rfind(b"/") + 1 :]
        try:
            journal.read(writer.dirs.get(dir_index), name, evidence)
        except OSError as exc:
            records.append(Record(rel, "journal", Outcome.FAILED, f"cannot read: {_why(exc)}"))
            return records
        original = journal.journal_mtime(name)
        assert original is not None  # the walk matched the name
        restore.append((dir_index, original))
        if check:
            why = "journal of a stopped run: a run finishes its work and removes it"
            records.append(Record(rel, "journal", Outcome.REMOVED, why))
    for rel, (ino, mtime) in evidence.mtimes.items():
        index = inventory.by_rel.get(rel)
        if index is not None and inventory.entries[index].ino == ino:
            restore.append((index, mtime))
    for index, mtime in restore:
        records.extend(_restore(inventory, writer, index, mtime, final_ns, check))
    if not check:
        records.extend(_finish_groups(inventory, writer, evidence))
    for rel, dir_index in inventory.leftovers:
        if not check:
            try:
                writer.remove_leftover(rel, dir_index)
            except OSError as exc:
                detail = f"{LEFTOVER}: cannot remove: {_why(exc)}"
                records.append(Record(rel, "rootnorm", Outcome.FAILED, detail))
                continue
        records.append(Record(rel, "rootnorm", Outcome.REMOVED, LEFTOVER))
    return records


def _restore(
    inventory: Inventory,
    writer: Writer,
    index: int,
    original: int,
    final_ns: Callable[[int], int] | None,
    check: bool,
) -> list[Record]:
    """Give an entry back the mtime it had before a stopped run moved it, unless it already
    has the final one that mtime leads to."""
    entry = inventory.entries[index]
    if entry.mtime_ns == original or (
        final_ns is not None and entry.mtime_ns == final_ns(original)
    ):
        return []
    if check and entry.is_file:
        return []  # a file is opened only if its mtime is the walk's: the real run restores it
    if not check:
        try:
            if index == 0:
                os.utime(writer.dirs.get(0), ns=(original, original))
            else:
                for _, exc in writer.set_plain_mtimes([index], [original]):
                    raise exc
        except OSError as exc:
            detail = f"cannot restore the mtime a stopped run moved: {_why(exc)}"
            return [Record(entry.rel, "journal", Outcome.FAILED, detail)]
    for name_index in inventory.names_of(index):
        inventory.entries[name_index].mtime_ns = original
    return []


def _finish_groups(
    inventory: Inventory, writer: Writer, evidence: journal.Evidence
) -> list[Record]:
    records: list[Record] = []
    entries = inventory.entries
    for old_ino, new_ino, names in evidence.groups:
        indices = [inventory.by_rel.get(rel) for rel in names]
        first = indices[0]
        if first is None or entries[first].ino != new_ino or not entries[first].is_file:
            continue  # the move never started (its temp file is a leftover), or is done
        others = [
            i
            for i in indices[1:]
            if i is not None and entries[i].ino == old_ino and entries[i].mode
        ]
        if not others:
            continue
        try:
            writer.finish_group(first, others)
        except OSError as exc:
            detail = f"cannot finish a stopped run's hard-link move: {_why(exc)}"
            records.append(Record(entries[first].rel, "journal", Outcome.FAILED, detail))
    return records


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
