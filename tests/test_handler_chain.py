"""Handlers after one that rewrote a file inspect the rewritten file, not the old inode."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest

from rootnorm import handlers, pipeline, profile
from rootnorm.decisions import Decision
from rootnorm.handlers.base import Handler, Item
from rootnorm.inventory import Entry
from rootnorm.progress import Progress
from rootnorm.report import Report

CHAIN = """
description = "zip, then a handler that looks at the same file"

[mtime]
policy = "zero"

[[handler]]
name = "zip"

[[handler]]
name = "probe"
"""


class Probe(Handler):
    """Records the bytes it is given; decides nothing."""

    name = "probe"
    summary = "test probe"
    seen: ClassVar[list[bytes]] = []

    def name_keys(self) -> tuple[bytes, ...]:
        return (b".jar",)

    def wants(self, entry: Entry) -> bool:
        return entry.name.endswith(b".jar")

    def inspect(self, item: Item) -> Decision:
        Probe.seen.append(item.pread(os.fstat(item.fd).st_size, 0))
        return None


def test_later_handler_sees_the_rewritten_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(handlers.REGISTRY, "probe", f"{__name__}:Probe")
    jar = tmp_path / "lib.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr(zipfile.ZipInfo("b.txt", (2024, 3, 1, 10, 0, 0)), b"b" * 100)
        archive.writestr(zipfile.ZipInfo("a.txt", (2024, 3, 1, 10, 0, 0)), b"a" * 100)
    before = jar.read_bytes()
    run = pipeline.prepare(profile.parse(CHAIN, "chain", "test"), None, False, 1)
    Probe.seen.clear()
    pipeline.execute(run, str(tmp_path), Report("chain", "", False, []), Progress(False))
    after = jar.read_bytes()
    assert after != before
    assert Probe.seen == [after]
