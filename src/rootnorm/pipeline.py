"""One run: walk once, content handlers per inode, then the mtime pass over every entry."""

from __future__ import annotations

import gc
import itertools
import os
from array import array
from collections.abc import Sequence
from typing import NamedTuple

from rootnorm import handlers, stopping
from rootnorm.clock import NS, Clock, Policy
from rootnorm.decisions import Findings, Leave, Outcome, Patch, Remove, Rewrite
from rootnorm.errors import UsageError
from rootnorm.handlers.base import Handler, HandlerRefused, Item, Settings, name_key
from rootnorm.handlers.mtime import MtimeHandler
from rootnorm.inventory import Inventory, walk
from rootnorm.journal import Journal
from rootnorm.profile import Profile
from rootnorm.progress import Progress
from rootnorm.recovery import recover
from rootnorm.report import Record, Report
from rootnorm.workers import spread, tasks
from rootnorm.writer import Writer

MIN_HEAVY = 16  # fewer costly files than this are not worth forking workers for
Candidate = tuple[int, tuple[int, ...]]  # entry index, indices of the handlers that want it
NOT_REGULAR = "not a regular file; not opened"
STOPPED_JOURNAL = "journal of a stopped run: its work is finished"
HELD = "mtime kept: a file whose validity rests on it could not be updated"
UNCERTAIN = (
    "left as it was: a name of this tree could not be read, and may be a hard link to this "
    "file (a new inode for the names seen would split the group)"
)


class Run(NamedTuple):
    profile: Profile
    settings: Settings
    content: list[Handler]
    mtime: MtimeHandler | None
    check: bool
    jobs: int


class ChunkResult:
    """What a worker did, for the parent's report and inventory."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        # (index, dev, ino, size, every name) of every inode a worker replaced
        self.new_inodes: list[tuple[int, int, int, int, tuple[int, ...]]] = []
        # every name of each inode a worker removed; by index, as inode numbers get reused
        self.removed: list[tuple[int, ...]] = []
        # (index, every name, old mtime, final mtime) of each inode written with a new mtime
        self.mtimes: list[tuple[int, tuple[int, ...], int, int]] = []
        # anchors (a pyc's source, a font cache's directory) of files whose write failed:
        # they keep their mtime, so the next run can still update the file
        self.held: list[int] = []

    def add_to(self, report: Report) -> None:
        """Its records, and the mtimes it set (the mtime pass, which now skips those files,
        counts them in --check: both modes count the same)."""
        report.add(self.records)
        for index, _, old, new in self.mtimes:
            report.add_mtime(index, old, new)


def prepare(
    profile: Profile,
    epoch: int | None,
    check: bool,
    jobs: int,
    build_path_prefixes: tuple[str, ...] = (),
) -> Run:
    """Instantiate the profile's handlers; raises UsageError if one refuses these settings."""
    value = profile.value if profile.value is not None else (epoch or 0)
    clock = Clock(profile.policy, value)
    mtime_on = any(handlers.load(step.name).whole_tree for step in profile.steps)
    settings = Settings(clock, mtime_on, epoch, build_path_prefixes)
    content: list[Handler] = []
    mtime: MtimeHandler | None = None
    for step in profile.steps:
        cls = handlers.load(step.name)
        try:
            handler = cls(settings, step.options)
        except HandlerRefused as exc:
            raise UsageError(f"handler {step.name}: {exc}") from None
        if isinstance(handler, MtimeHandler):
            mtime = handler
        else:
            content.append(handler)
    return Run(profile, settings, content, mtime, check, jobs)


def execute(run: Run, root: str, report: Report, progress: Progress) -> None:
    # The run makes hundreds of thousands of long-lived objects without reference cycles (the
    # inventory, the records). The cyclic collector would go over all of them again and again,
    # finding nothing: a third of the walk's time at 300k entries. Forked workers inherit this.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _execute(run, root, report, progress)
    finally:
        progress.close()
        if collecting:
            gc.enable()


def _execute(run: Run, root: str, report: Report, progress: Progress) -> None:
    inventory = walk(root, run.profile.exclude, run.profile.cross_mounts)
    report.inventory = inventory
    report.add(Record(p.rel, "walk", Outcome.FAILED, p.why) for p in inventory.problems)
    final_ns = run.settings.clock.final_ns if run.mtime is not None else None
    journal = None if run.check else _journal(run, inventory)
    with Writer(inventory, journal) as writer:
        report.add(recover(inventory, writer, final_ns, run.check))
        report.add(_synced(inventory, writer))
    held: list[int] = []
    candidates, odd = _candidates(run, inventory, held)
    report.add(odd)
    report.inspected = len(candidates)
    progress.start(len(candidates))
    heavy = _costly(run, inventory, candidates) if run.jobs > 1 else []
    if len(heavy) >= MIN_HEAVY:
        held += _content_parallel(run, inventory, candidates, heavy, report, progress, journal)
    else:
        result = _content(run, inventory, candidates, progress, journal)
        result.add_to(report)
        held += result.held
    _finish(run, inventory, report, journal, set(held))


def _journal(run: Run, inventory: Inventory) -> Journal:
    """This run's journal: a stopped run's, or a new one where removing it at the end cannot
    change a final mtime (see `rootnorm.journal`)."""
    if inventory.journals:
        rel, dir_index = inventory.journals[0]
        return Journal(rel[rel.rfind(b"/") + 1 :], dir_index)
    entries = inventory.entries
    clock = run.settings.clock
    home = 0
    if run.mtime is not None and clock.policy is Policy.CLAMP:
        limit = clock.epoch * NS
        if entries[0].mtime_ns < limit:
            home = next((i for i, e in enumerate(entries) if e.is_dir and e.mtime_ns >= limit), 0)
    return Journal.new(home, entries[home].mtime_ns)


def _finish(
    run: Run, inventory: Inventory, report: Report, journal: Journal | None, held: set[int]
) -> None:
    """The mtime pass; then the journal, removed when every change was made (kept for the
    next run when something failed); then the root's own mtime, last, since removing the
    journal changes it."""
    with Writer(inventory, journal) as writer:
        if run.mtime is not None:
            _mtimes(run, run.mtime, inventory, report, writer, held)
        if journal is None:  # --check
            return
        report.add(_synced(inventory, writer))
        journal.close()
        if not report.failed:
            # --jobs workers may have made it without this process writing to it
            names = {(journal.dir_index, journal.name)}
            names.update((d, rel[rel.rfind(b"/") + 1 :]) for rel, d in inventory.journals)
            for dir_index, name in sorted(names):
                rel = _child(inventory.entries[dir_index].rel, name)
                try:
                    fd = writer.dirs.get(dir_index)
                    os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # nothing was written (and a read-only tree stays untouched)
                except OSError as exc:
                    report.add([Record(rel, "journal", Outcome.FAILED, _why(exc))])
                    continue
                try:
                    os.unlink(name, dir_fd=fd)
                except OSError as exc:
                    report.add([Record(rel, "journal", Outcome.FAILED, _why(exc))])
                    continue
                if (rel, dir_index) in inventory.journals:
                    report.add([Record(rel, "journal", Outcome.REMOVED, STOPPED_JOURNAL)])
        for dir_index in sorted({journal.dir_index, *(d for _, d in inventory.journals)}):
            # removing the journal changed its directory's mtime (creating it did too)
            mtime = inventory.entries[dir_index].mtime_ns
            try:
                fd = writer.dirs.get(dir_index)
                if os.fstat(fd).st_mtime_ns != mtime:
                    os.utime(fd, ns=(mtime, mtime))
                    os.fsync(fd)
            except OSError as exc:
                rel = inventory.entries[dir_index].rel
                report.add([Record(rel, "journal", Outcome.FAILED, _why(exc))])


def _child(directory: bytes, name: bytes) -> bytes:
    return directory + b"/" + name if directory else name


def _synced(inventory: Inventory, writer: Writer) -> list[Record]:
    """fsync the directories `writer` changed; a record for each that failed."""
    return [
        Record(
            inventory.entries[index].rel,
            "writer",
            Outcome.FAILED,
            f"cannot make the changes in this directory durable (fsync): {_why(exc)}",
        )
        for index, exc in writer.sync()
    ]


def _costly(run: Run, inventory: Inventory, candidates: list[Candidate]) -> list[Candidate]:
    """The candidates some handler finds worth a --jobs worker."""
    content = run.content
    return [c for c in candidates if any(content[k].costly(inventory, c[0]) for k in c[1])]


def _asked(run: Run) -> tuple[dict[bytes, tuple[int, ...]], tuple[int, ...]]:
    """Which handlers to ask `wants` about a file: a table by `name_key`, and the handlers to
    ask about a file whose key is not in the table."""
    always: list[int] = []
    keyed: dict[bytes, set[int]] = {}
    for k, handler in enumerate(run.content):
        keys = handler.name_keys()
        if keys is None:
            always.append(k)
        else:
            for key in keys:
                keyed.setdefault(key, set()).add(k)
    table = {key: tuple(sorted(ks.union(always))) for key, ks in keyed.items()}
    return table, tuple(always)


def _candidates(
    run: Run, inventory: Inventory, held: list[int] | None = None
) -> tuple[list[Candidate], list[Record]]:
    """In one pass: the regular files (one name per inode) that content handlers want, and
    the FIFOs, sockets, devices and directories named like something a handler wants. The
    anchors of files left as they were (see `uncertain`) go to `held`."""
    found: list[Candidate] = []
    odd: list[Record] = []
    if not run.content:
        return found, odd
    table, rest = _asked(run)
    handlers_ = run.content
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # a few distinct tuples, kept once
    for index, entry in enumerate(inventory.entries):
        ask = table.get(name_key(entry.rel), rest)
        if not ask or entry.is_symlink or entry.parent < 0:
            continue
        wanted: tuple[int, ...]
        if len(ask) == 1:  # most files: one handler, and no generator to run
            wanted = ask if handlers_[ask[0]].wants(entry) else ()
        else:
            wanted = tuple(k for k in ask if handlers_[k].wants(entry))
        if not wanted:
            continue
        if not entry.is_file:
            odd.extend(
                Record(entry.rel, handlers_[k].name, Outcome.UNSUPPORTED, NOT_REGULAR)
                for k in wanted
            )
        elif inventory.is_primary(index):
            if inventory.unread_inodes and inventory.uncertain(index):
                odd.append(Record(entry.rel, handlers_[wanted[0]].name, Outcome.FAILED, UNCERTAIN))
                anchors = (handlers_[k].anchor(inventory, index) for k in wanted)
                if held is not None:
                    held.extend(a for a in anchors if a is not None)
                continue
            found.append((index, shared.setdefault(wanted, wanted)))
    return found, odd


def _content(
    run: Run,
    inventory: Inventory,
    candidates: Sequence[Candidate],
    progress: Progress | None,
    journal: Journal | None = None,
) -> ChunkResult:
    """Inspect and write `candidates`; a signal stops it between two files."""
    result = ChunkResult()
    with Writer(inventory, journal) as writer:
        _each_file(run, inventory, candidates, progress, writer, result)
        result.records.extend(_synced(inventory, writer))
    return result


def _each_file(
    run: Run,
    inventory: Inventory,
    candidates: Sequence[Candidate],
    progress: Progress | None,
    writer: Writer,
    result: ChunkResult,
) -> None:
    entries = inventory.entries
    # Files a handler will likely patch in place are opened read-write at once, but only when
    # their mtime changes anyway: an overlay file system copies a file up on either.
    final_ns = run.mtime.settings.clock.final_ns if run.mtime and not run.check else None
    in_place: dict[tuple[int, ...], bool] = {}
    for index, wanted in candidates:
        stopping.check()
        patching = in_place.get(wanted)
        if patching is None:
            patching = in_place[wanted] = any(run.content[k].patches_in_place for k in wanted)
        mtime = entries[index].mtime_ns
        writable = patching and final_ns is not None and final_ns(mtime) != mtime
        _one_file(run, inventory, index, wanted, writable, writer, result)
        if progress is not None:
            progress.update(1)


def _one_file(
    run: Run,
    inventory: Inventory,
    index: int,
    wanted: tuple[int, ...],
    writable: bool,
    writer: Writer,
    result: ChunkResult,
) -> None:
    entry = inventory.entries[index]
    path = entry.rel
    try:
        fd, writable = writer.open_item(index, writable)
    except OSError as exc:
        result.records.append(Record(path, run.content[wanted[0]].name, Outcome.FAILED, _why(exc)))
        _hold_anchors(run, inventory, index, wanted, result)
        return
    try:
        item = Item(inventory, index, fd, writer.dirs.get)
        last = wanted[-1]
        for k in wanted:
            handler = run.content[k]
            try:
                decision = handler.inspect(item)
            except OSError as exc:
                result.records.append(Record(path, handler.name, Outcome.FAILED, _why(exc)))
                _hold_anchors(run, inventory, index, wanted, result)
                return
            except Exception as exc:  # a handler bug must not end the run or show a traceback
                detail = f"internal error in handler {handler.name}: {exc!r}"
                result.records.append(Record(path, handler.name, Outcome.FAILED, detail))
                _hold_anchors(run, inventory, index, wanted, result)
                return
            if decision is None:
                continue
            if isinstance(decision, Leave):
                result.records.append(Record(path, handler.name, decision.outcome, decision.why))
                continue
            if isinstance(decision, Findings):
                result.records.extend(
                    Record(path, handler.name, Outcome.FINDING, f.detail, f) for f in decision.items
                )
                continue
            outcome = Outcome.REMOVED if isinstance(decision, Remove) else Outcome.CHANGED
            if isinstance(decision, Patch) and decision.finding is not None:
                finding = decision.finding
                result.records.append(
                    Record(path, handler.name, Outcome.FINDING, finding.detail, finding)
                )
            if run.check:
                result.records.append(Record(path, handler.name, outcome, decision.what))
                if isinstance(decision, Remove):  # no mtime to count for it, as in a real run
                    result.removed.append(tuple(inventory.names_of(index)))
                    inventory.forget(index)
                    return
                continue
            current = inventory.entries[index]
            old_ino, old_mtime = current.ino, current.mtime_ns
            names = tuple(inventory.names_of(index))
            # A file written now gets its final mtime at once: the mtime pass then skips it.
            mtime = run.mtime.new_mtime(current) if run.mtime is not None else None
            try:
                if isinstance(decision, Patch):
                    writer.patch(index, decision, mtime, fd if writable else None)
                elif isinstance(decision, Rewrite):
                    writer.replace(index, decision.produce, mtime)
                else:
                    writer.remove(index)
            except OSError as exc:
                detail = f"{decision.what}: {_why(exc)}; left as it was"
                result.records.append(Record(path, handler.name, Outcome.FAILED, detail))
                if decision.anchor is not None:
                    result.held.append(decision.anchor)
                return
            result.records.append(Record(path, handler.name, outcome, decision.what))
            if isinstance(decision, Remove):
                result.removed.append(names)
                return
            if mtime is not None:
                result.mtimes.append((index, names, old_mtime, mtime))
            replaced = current.ino != old_ino
            if replaced:
                result.new_inodes.append((index, current.dev, current.ino, current.size, names))
            if k != last:  # later handlers see the new bytes
                if replaced:
                    os.close(fd)
                    fd = -1
                    fd, writable = writer.open_item(index, False)
                item = Item(inventory, index, fd, writer.dirs.get)
    except OSError as exc:
        result.records.append(Record(path, "pipeline", Outcome.FAILED, _why(exc)))
    finally:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError as exc:
                result.records.append(Record(path, "pipeline", Outcome.FAILED, _why(exc)))


def _hold_anchors(
    run: Run, inventory: Inventory, index: int, wanted: tuple[int, ...], result: ChunkResult
) -> None:
    """A file no handler could decide on: what its validity rests on keeps its mtime."""
    for k in wanted:
        anchor = run.content[k].anchor(inventory, index)
        if anchor is not None:
            result.held.append(anchor)


def _content_parallel(
    run: Run,
    inventory: Inventory,
    candidates: list[Candidate],
    heavy: list[Candidate],
    report: Report,
    progress: Progress,
    journal: Journal | None,
) -> list[int]:
    """The costly files in forked workers; meanwhile this process does the light ones (a pyc
    header costs less than handing it over). They are different inodes, so the two never meet.
    Returns the anchors held by failed writes."""

    def work(task: list[Candidate]) -> ChunkResult:
        return _content(run, inventory, task, None, journal)

    handed = set(heavy)
    light = [candidate for candidate in candidates if candidate not in handed]
    with spread(run.jobs, tasks(inventory, heavy, run.jobs), work) as results:
        mine = _content(run, inventory, light, progress, journal)
        mine.add_to(report)
        held = mine.held
        for task, result in results:
            result.add_to(report)
            held.extend(result.held)
            for index, dev, ino, size, names in result.new_inodes:
                inventory.update_inode(index, dev, ino, size, names)
            for names in result.removed:
                inventory.forget(names[0], names)
            for _, names, _, mtime in result.mtimes:
                for name_index in names:
                    inventory.entries[name_index].mtime_ns = mtime
            progress.update(len(task))
    return held


def _mtimes(
    run: Run,
    handler: MtimeHandler,
    inventory: Inventory,
    report: Report,
    writer: Writer,
    held: set[int],
) -> None:
    """Set every entry's final mtime.

    An entry that needs a new inode (links outside the root) or is the root is done first, in
    reverse walk order (children before parents: a new inode changes its directory's mtime).
    Every other change is a plain utime, which touches no other entry: these follow in one
    tight loop. (Splitting them over
    --jobs workers was measured: no faster, even at 257k utimes, so they stay in one process.)
    Entries in `held` keep their mtime: a file whose validity rests on it could not be updated.
    """
    entries = inventory.entries
    final_ns = handler.settings.clock.final_ns
    plain, plain_new = array("q"), array("q")
    special: list[tuple[int, int, int]] = []  # index, old mtime, new mtime
    kept: list[Record] = []
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.mode == 0 or (entry.nlink > 1 and not inventory.is_primary(index)):
            continue  # removed, or a hard link whose inode its first name takes care of
        new = final_ns(entry.mtime_ns)
        if new == entry.mtime_ns:
            continue
        if index in held:
            kept.append(Record(entry.rel, handler.name, Outcome.SKIPPED, HELD))
        elif index == 0 or (entry.nlink > 1 and inventory.shared_outside(index)):
            if inventory.unread_inodes and inventory.uncertain(index):
                kept.append(Record(entry.rel, handler.name, Outcome.FAILED, UNCERTAIN))
            else:
                special.append((index, entry.mtime_ns, new))
        else:
            plain.append(index)
            plain_new.append(new)
    report.add(kept)
    failed: dict[int, str] = {}
    if not run.check:
        for index, _, new in special:
            stopping.check()
            try:
                writer.set_special_mtime(index, new)
            except OSError as exc:
                failed[index] = _why(exc)
        failed.update(
            (index, _why(exc)) for index, exc in writer.set_plain_mtimes(plain, plain_new)
        )
    changes = ((index, entries[index].mtime_ns, new) for index, new in zip(plain, plain_new))
    for index, old, new in itertools.chain(special, changes):
        why = failed.get(index)
        if why is not None:
            report.add([Record(entries[index].rel, handler.name, Outcome.FAILED, why)])
            continue
        report.add_mtime(index, old, new)
        for name_index in inventory.names_of(index):
            entries[name_index].mtime_ns = new


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
