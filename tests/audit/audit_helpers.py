"""Helpers for the audit tests: run one handler on one file of a tree built in tmp_path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from rootnorm.clock import Clock, Policy
from rootnorm.decisions import Decision, Findings
from rootnorm.handlers.base import Handler, Item, Settings
from rootnorm.inventory import Inventory, walk
from rootnorm.safeopen import open_file_alone

EPOCH = 1_600_000_000


def settings(policy: Policy = Policy.CLAMP, epoch: int = EPOCH, final: bool = True) -> Settings:
    return Settings(clock=Clock(policy, epoch), mtimes_final=final, source_date_epoch=epoch)


def make(cls: type[Handler], options: Mapping[str, object] | None = None, **kw: object) -> Handler:
    return cls(settings(**kw), options or {})  # type: ignore[arg-type]


def inspect(handler: Handler, root: Path, rel: str, inventory: Inventory | None = None) -> Decision:
    """What `handler` decides about `rel` (the pipeline's open, without the pipeline)."""
    inv = inventory or walk(str(root))
    index = inv.by_rel[os.fsencode(rel)]
    fd = open_file_alone(inv, index)
    try:
        return handler.inspect(Item(inv, index, fd))
    finally:
        os.close(fd)


def ids(decision: Decision) -> set[str]:
    assert decision is None or isinstance(decision, Findings), decision
    return set() if decision is None else {finding.id for finding in decision.items}
