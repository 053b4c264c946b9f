"""Helpers for the archive tests: settings, running a handler on one file, real tools."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from testlib import rootnorm, unavailable

from rootnorm import inventory
from rootnorm.archives import zipfmt
from rootnorm.clock import Clock, Policy
from rootnorm.decisions import Decision, Leave, Outcome, Patch, Rewrite
from rootnorm.handlers import load
from rootnorm.handlers.base import Item, Settings

EPOCH = 1_700_000_000  # 2023-11-14 22:13:20 UTC: the SOURCE_DATE_EPOCH of the tests
BUILD_TIMES = ("2024-03-01 10:00:00", "2025-07-15 18:31:07")  # two builds, both newer


def clamp(epoch: int = EPOCH) -> Settings:
    return Settings(clock=Clock(Policy.CLAMP, epoch), mtimes_final=True, source_date_epoch=epoch)


def zero() -> Settings:
    return Settings(clock=Clock(Policy.ZERO), mtimes_final=True, source_date_epoch=None)


def inspect(
    handler: str, path: Path, settings: Settings, options: Mapping[str, object] = {}
) -> Decision:
    """The decision of `handler` on `path`, found through a walk of its directory."""
    cls = load(handler)
    instance = cls(settings, options)
    inv = inventory.walk(str(path.parent))
    index = inv.by_rel[os.fsencode(path.name)]
    assert instance.wants(inv.entries[index])
    fd = os.open(path, os.O_RDONLY)
    try:
        return instance.inspect(Item(inv, index, fd))
    finally:
        os.close(fd)


def assert_left_unsupported(handler: str, path: Path, content: bytes, why: str) -> None:
    """`content` written to `path` is refused by `handler` for `why` and stays byte-identical."""
    path.write_bytes(content)
    decision = normalise(handler, path, clamp())
    assert isinstance(decision, Leave), decision
    assert decision.outcome is Outcome.UNSUPPORTED
    assert why in decision.why
    assert path.read_bytes() == content


def normalise(
    handler: str, path: Path, settings: Settings, options: Mapping[str, object] = {}
) -> Decision:
    """Inspect and apply a Patch or Rewrite (what the writer does, minus its safety rules)."""
    decision = inspect(handler, path, settings, options)
    if isinstance(decision, Patch):
        with path.open("r+b") as f:
            f.seek(decision.offset)
            f.write(decision.data)
    if isinstance(decision, Rewrite):
        tmp = path.with_name(path.name + ".tmp")
        with path.open("rb") as src, tmp.open("wb") as dst:
            decision.produce(src, dst)
        tmp.replace(path)
    return decision


def run(args: Sequence[str], cwd: Path | None = None, faketime: str | None = None) -> str:
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    if faketime is not None:
        args = ["faketime", faketime, *args]
        env["NO_FAKE_STAT"] = "1"  # fake the wall clock only, not the files' mtimes
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def required(*tools: str) -> None:
    """Like `needs`, but a failure in CI, which installs these tools (.ci/run)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        unavailable(f"needs {', '.join(missing)}")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, with TZ=UTC (zip times are local times)."""
    return rootnorm(*args, env={"TZ": "UTC"})


class Unseekable(io.RawIOBase):
    """Makes zipfile write data descriptors, as streaming writers (jar, Gradle) do."""

    def __init__(self, sink: io.BytesIO) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self.sink.write(data)


def central_records(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each central directory record of zip `data`, in directory order."""
    entries, pos, _, _ = zipfmt._read_entries(io.BytesIO(data), len(data))
    records = []
    for entry in entries:
        end = pos + zipfmt.CENTRAL.size + len(entry.name) + len(entry.central_extra)
        end += len(entry.comment)
        records.append((pos, end))
        pos = end
    return records
