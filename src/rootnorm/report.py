"""Outcomes of a run: the JSON report, the human summary and the exit code.

The report holds no wall-clock time and no absolute path, and lists root-relative paths in
sorted order, so the report of a reproducible run is itself reproducible.
"""

from __future__ import annotations

import itertools
import json
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple, TextIO

from rootnorm import __version__
from rootnorm.clock import NS
from rootnorm.decisions import Finding, Outcome
from rootnorm.inventory import Inventory, shown

REPORT_FORMAT = 2  # 2: paths are "./usr/..." (1: "/usr/...", which looked like host paths)
EXIT_OK, EXIT_CHANGES, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
EXAMPLES = 10
CHECKOUT_TIME = "checkout-time"  # an mtime change an ostree checkout undoes (see Profile)


class Record(NamedTuple):
    """One outcome for one file (a tuple: a first run can produce one per pyc)."""

    rel: bytes  # root-relative path, shared with the inventory's entry
    handler: str
    outcome: Outcome
    detail: str
    finding: Finding | None = None

    @property
    def path(self) -> str:
        """For people and the JSON report: undecodable bytes shown as \\xNN."""
        return shown(self.rel)

    @property
    def finding_id(self) -> str | None:
        """The id `--fail-on` matches: a finding's own, or HANDLER-stale / HANDLER-unsupported."""
        if self.finding is not None:
            return self.finding.id
        if self.outcome in (Outcome.STALE, Outcome.UNSUPPORTED):
            return f"{self.handler}-{self.outcome.value}"
        return None

    def as_json(self) -> dict[str, str]:
        data = {"path": self.path, "handler": self.handler, "outcome": self.outcome.value}
        if self.detail:
            data["detail"] = self.detail
        if self.finding is not None:
            data["id"] = self.finding.id
            data["advice"] = self.finding.advice
        return data


class Report:
    def __init__(
        self,
        profile: str,
        policy: str,
        check: bool,
        handlers: Sequence[str],
        checkout_time: bool = False,
    ) -> None:
        self.profile = profile
        self.policy = policy
        self.check = check
        self.handlers = list(handlers)
        self.checkout_time = checkout_time  # see Profile.checkout_time
        self._checkout_counted = (0, 0)  # (mtime changes counted, how many a checkout undoes)
        self.inspected = 0  # files the content handlers opened (the progress bar's total)
        self.records: list[Record] = []
        self.inventory: Inventory | None = None
        # mtime changes are the bulk of a first run: kept compact (entry index, old ns, new ns)
        self.mtime_index = array("q")
        self.mtime_old = array("q")
        self.mtime_new = array("q")

    def add_mtime(self, index: int, old_ns: int, new_ns: int) -> None:
        self.mtime_index.append(index)
        self.mtime_old.append(old_ns)
        self.mtime_new.append(new_ns)

    def mtime_changes(self, counted_only: bool = False) -> Iterator[tuple[str, int, int]]:
        """(path, old ns, new ns) of every mtime change (or only those that count as a
        difference), sorted by path, made one at a time (a first run changes every entry:
        only the sort order is held in memory)."""
        if self.inventory is None:
            return
        entries = self.inventory.entries
        index = self.mtime_index
        for k in sorted(range(len(index)), key=lambda k: entries[index[k]].rel):
            if counted_only and self._checkout_sets(index[k]):
                continue
            yield entries[index[k]].display(), self.mtime_old[k], self.mtime_new[k]

    def _checkout_sets(self, index: int) -> bool:
        """An ostree checkout gives this entry its own time (a symlink or an empty file), so
        a change of its mtime is made but is no difference."""
        if not self.checkout_time or self.inventory is None:
            return False
        entry = self.inventory.entries[index]
        return entry.is_symlink or (entry.is_file and entry.size == 0)

    def _checkout_time_changes(self) -> int:
        if not self.checkout_time:
            return 0
        done = len(self.mtime_index)  # the list only grows: a count for this length stays true
        if self._checkout_counted[0] != done:
            unkept = sum(1 for index in self.mtime_index if self._checkout_sets(index))
            self._checkout_counted = (done, unkept)
        return self._checkout_counted[1]

    def add(self, records: Iterable[Record]) -> None:
        self.records.extend(records)

    def counts(self) -> dict[str, dict[str, int]]:
        by_outcome = Counter((record.handler, record.outcome) for record in self.records)
        tally: Counter[tuple[str, str]] = Counter()
        for (handler, kind), number in by_outcome.items():  # `.value` once per kind
            tally[(handler, kind.value)] += number
        if self.mtime_index:
            unkept = self._checkout_time_changes()
            if len(self.mtime_index) > unkept:
                tally[("mtime", Outcome.CHANGED.value)] = len(self.mtime_index) - unkept
            if unkept:
                tally[("mtime", CHECKOUT_TIME)] = unkept
        counts: dict[str, dict[str, int]] = {}
        for (handler, outcome), number in sorted(
            tally.items(), key=lambda item: (self.handler_rank(item[0][0]), item[0])
        ):
            counts.setdefault(handler, {})[outcome] = number
        return counts

    @property
    def changed(self) -> bool:
        """Something (that counts as a difference) was, or would be, changed."""
        mtimes = len(self.mtime_index) > self._checkout_time_changes()
        return mtimes or any(r.outcome in (Outcome.CHANGED, Outcome.REMOVED) for r in self.records)

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.records if r.outcome is Outcome.FAILED]

    def matched(self, fail_on: frozenset[str]) -> list[Record]:
        """Records whose finding id is listed in `--fail-on` (or any finding, for `all`)."""
        if not fail_on:
            return []
        return [
            r
            for r in self.records
            if r.finding_id is not None and ("all" in fail_on or r.finding_id in fail_on)
        ]

    def exit_code(self, fail_on: frozenset[str]) -> int:
        if self.failed:
            return EXIT_FAILED
        if (self.check and self.changed) or self.matched(fail_on):
            return EXIT_CHANGES
        return EXIT_OK

    def header_json(self) -> dict[str, object]:
        """Everything in the JSON report but the per-file lists."""
        inventory = self.inventory
        return {
            "format": "rootnorm-report",
            "version": REPORT_FORMAT,
            "tool_version": __version__,
            "profile": self.profile,
            "mtime_policy": self.policy,
            "check": self.check,
            "entries_seen": len(inventory.entries) if inventory else 0,
            "files_inspected": self.inspected,
            "excluded": inventory.excluded if inventory else 0,
            "mount_points_skipped": inventory.mounts_skipped if inventory else 0,
            "counts": self.counts(),
        }

    def handler_rank(self, handler: str) -> int:
        return self.handlers.index(handler) if handler in self.handlers else -1

    def write_json(self, out: TextIO) -> None:
        """The report, streamed: one line per file record and per mtime change."""
        files = sorted(self.records, key=lambda r: (r.rel, self.handler_rank(r.handler)))
        mtimes = (
            {"path": path, "old": _seconds(old), "new": _seconds(new)}
            for path, old, new in self.mtime_changes()
        )
        out.write(json.dumps(self.header_json(), indent=1)[:-2] + ",\n")
        _write_list(out, "files", (r.as_json() for r in files))
        out.write(",\n")
        _write_list(out, "mtimes", mtimes)
        out.write("\n}\n")

    def summary(self, verbose: bool) -> list[str]:
        """Human lines: counts per handler, and the first few failures and notable files of
        each kind (all of them with `verbose`)."""
        would = "would be " if self.check else ""
        inventory = self.inventory
        seen = len(inventory.entries) if inventory else 0
        excluded = inventory.excluded if inventory else 0
        mounts = inventory.mounts_skipped if inventory else 0
        lines = [
            f"rootnorm: profile {self.profile}, mtime policy {self.policy}"
            + (", check only (nothing written)" if self.check else ""),
            f"  {seen} entries seen, {self.inspected} files inspected"
            + (f", {excluded} excluded" if excluded else "")
            + (f", {mounts} mount points not crossed" if mounts else ""),
        ]
        for handler, outcomes in self.counts().items():
            parts = ", ".join(
                f"{number} {would + outcome if outcome in ('changed', 'removed') else outcome}"
                for outcome, number in outcomes.items()
            )
            if CHECKOUT_TIME in outcomes:
                parts += " (symlinks and empty files: an ostree checkout gives them its own time)"
            lines.append(f"  {handler}: {parts}")
        notable = {Outcome.FAILED, Outcome.STALE, Outcome.UNSUPPORTED, Outcome.FINDING}
        if self.check:
            notable |= {Outcome.CHANGED, Outcome.REMOVED}
        shown: Counter[Outcome] = Counter()
        hidden = 0
        shown_records = (
            self.records if verbose else [r for r in self.records if r.outcome in notable]
        )
        for record in sorted(shown_records, key=lambda r: r.rel):
            if verbose or shown[record.outcome] < EXAMPLES:
                shown[record.outcome] += 1
                label = record.finding.id if record.finding else record.outcome.value
                lines.append(f"  {label}: {record.path} [{record.handler}] {record.detail}")
            else:
                hidden += 1
        if hidden:
            lines.append(f"  ... and {hidden} more (see --report or --verbose)")
        if verbose or self.check:
            shown_changes = self.mtime_changes(counted_only=not verbose)
            if not verbose:
                shown_changes = itertools.islice(shown_changes, EXAMPLES)
            for path, old, new in shown_changes:
                lines.append(f"  mtime: {path} {_seconds(old)} -> {_seconds(new)}")
            counted = len(self.mtime_index) - self._checkout_time_changes()
            if not verbose and counted > EXAMPLES:
                lines.append(f"  ... and {counted - EXAMPLES} more mtime changes")
        return lines


def _write_list(out: TextIO, key: str, items: Iterable[Mapping[str, object]]) -> None:
    out.write(f" {json.dumps(key)}: [")
    for number, item in enumerate(items):
        out.write(("\n  " if number == 0 else ",\n  ") + json.dumps(item))
    out.write("\n ]")


def _seconds(ns: int) -> int | float:
    return ns // NS if ns % NS == 0 else ns / NS
