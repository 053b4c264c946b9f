"""One fuzz target per parser: an input becomes a file in a small real tree, the handler
inspects it as the pipeline would, and a Rewrite is applied into memory. Anything but a
decision or a clean refusal (an exception, a wrong type) is a crash.

Adding a parser is one entry in TARGETS: the handler's registry name, where the input goes
in the tree, and a function making seed files with the real tool.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import seeds

from rootnorm.clock import Clock, Policy
from rootnorm.decisions import Findings, Leave, Patch, Remove, Rewrite
from rootnorm.handlers import load
from rootnorm.handlers.base import Handler, Item, Settings
from rootnorm.inventory import walk
from rootnorm.safeopen import open_file_alone

EPOCH = 1_700_000_000
SETTINGS = Settings(clock=Clock(Policy.CLAMP, EPOCH), mtimes_final=True, source_date_epoch=EPOCH)
DECISIONS = (Leave, Patch, Rewrite, Remove, Findings, type(None))
FONT_DIR = "usr/share/fonts/dejavu"
CONDA_DIR = "opt/conda/pkgs/cache"
CONDA_CACHE = b'{"info": {"subdir": "noarch"}, "packages": {}}\n'  # the cached repodata
CONDA_MTIME_NS = (EPOCH + 1000) * 1_000_000_000  # later than EPOCH: the clamp moves it
PYC_DIR = "usr/lib/python3/site-packages"


class Target(NamedTuple):
    handler: str  # registry name (rootnorm.handlers)
    path: str  # where an input is written, root-relative; the handler must want this name
    seeds: Callable[[Path, Path], list[bytes]]  # (scratch, root) -> seed inputs
    modules: tuple[str, ...]  # imported under coverage instrumentation (run.py INSTRUMENTED)
    options: Mapping[str, object] = {}
    place: Callable[[Path, str, bytes], None] | None = None  # writes an input; default: as is


def _place_pyc(root: Path, path: str, data: bytes) -> None:
    """Byte 0 even: a header for source number data[1] (so the cache is verified by content),
    then the rest; odd: the rest is the whole cache, its source is source 0."""
    if data[:1] and not data[0] & 1:
        source = seeds.SOURCES[data[1] % len(seeds.SOURCES)] if len(data) > 1 else b""
        content = seeds.crafted_pycs.header(source) + data[2:]
    else:
        source, content = seeds.SOURCES[0], data[1:]
    module = root / PYC_DIR / "mod.py"
    module.write_bytes(source)
    os.utime(module, (EPOCH, EPOCH))  # never the header's mtime: a mismatch to verify
    (root / path).write_bytes(content)


def _place_conda(root: Path, path: str, data: bytes) -> None:
    """The state file, and the cached repodata it describes (its anchor) beside it."""
    cache = root / CONDA_DIR / "0123abcd.json"
    cache.write_bytes(CONDA_CACHE)
    os.utime(cache, ns=(CONDA_MTIME_NS, CONDA_MTIME_NS))
    (root / path).write_bytes(data)


TARGETS: dict[str, Target] = {
    "pyc": Target(
        "pyc",
        f"{PYC_DIR}/__pycache__/mod.{sys.implementation.cache_tag}.pyc",
        lambda scratch, root: seeds.pyc(),
        ("rootnorm.pyc.header", "rootnorm.pyc.verify", "rootnorm.pyc.marshalcheck"),
        place=_place_pyc,
    ),
    "gzip": Target(
        "gzip",
        "usr/share/doc/a.gz",
        lambda s, r: seeds.gzip(s),
        ("rootnorm.archives.gzipfmt", "rootnorm.archives.decide"),
    ),
    "zip": Target(
        "zip",
        "usr/share/java/a.jar",
        lambda s, r: seeds.zip_(s),
        (
            "rootnorm.archives.zipfmt",
            "rootnorm.archives.zipextra",
            "rootnorm.archives.zipcontent",
            "rootnorm.archives.decide",
        ),
    ),
    "ar": Target(
        "ar",
        "usr/lib/a.a",
        lambda s, r: seeds.ar(s),
        ("rootnorm.archives.arfmt", "rootnorm.archives.decide"),
    ),
    "fontconfig": Target(
        "fontconfig",
        "var/cache/fontconfig/0123456789abcdef0123456789abcdef-le64.cache-9",
        lambda scratch, root: seeds.fontconfig(scratch, root / FONT_DIR),
        ("rootnorm.audit.fontcache", "rootnorm.handlers.fontconfig"),
    ),
    "elf": Target(
        "elf", "usr/bin/prog", lambda s, r: seeds.elf(s), ("rootnorm.audit.elfscan", "elftools")
    ),
    "mo": Target(
        "mo",
        "usr/share/locale/de/LC_MESSAGES/a.mo",
        lambda s, r: seeds.mo(s),
        ("rootnorm.formats.mofmt", "rootnorm.handlers.mo"),
    ),
    "png": Target(
        "png", "usr/share/icons/a.png", lambda s, r: seeds.png(), ("rootnorm.formats.pngfmt",)
    ),
    "javadoc": Target(
        "javadoc",
        "usr/share/doc/api/index.html",
        lambda s, r: seeds.javadoc(),
        ("rootnorm.formats.javadocfmt",),
    ),
    "shadow": Target(
        "shadow", "etc/shadow", lambda s, r: seeds.shadow(), ("rootnorm.formats.shadow",)
    ),
    "keystore": Target(
        "keystore",
        "etc/ssl/certs/java/cacerts",
        lambda s, r: seeds.keystore(s),
        ("rootnorm.formats.jks",),
    ),
    "conda": Target(
        "conda",
        f"{CONDA_DIR}/0123abcd.info.json",
        lambda s, r: seeds.conda(len(CONDA_CACHE), CONDA_MTIME_NS),
        ("rootnorm.formats.condastate",),
        place=lambda root, path, data: _place_conda(root, path, data),
    ),
}


class Harness:
    """A target's tree (made once) and its handler; `one` runs one input."""

    def __init__(self, name: str) -> None:
        self.target = TARGETS[name]
        # a RAM file system when there is one: one write per input
        memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.root = Path(tempfile.mkdtemp(prefix=f"rootnorm-fuzz-{name}-", dir=memory))
        for directory in (FONT_DIR, f"{PYC_DIR}/__pycache__", CONDA_DIR):
            (self.root / directory).mkdir(parents=True)
        (self.root / self.target.path).parent.mkdir(parents=True, exist_ok=True)
        self.handler: Handler = load(self.target.handler)(SETTINGS, self.target.options)
        self.rel = os.fsencode(self.target.path)
        self._write(b"")
        self.inventory = walk(str(self.root))  # once: inputs are written into the same inodes
        self.index = self.inventory.by_rel[self.rel]

    def _write(self, data: bytes) -> None:
        if self.target.place is None:
            (self.root / self.target.path).write_bytes(data)
        else:
            self.target.place(self.root, self.target.path, data)

    def seeds(self) -> list[bytes]:
        scratch = Path(tempfile.mkdtemp(prefix="rootnorm-fuzz-seeds-"))
        return self.target.seeds(scratch, self.root)

    def one(self, data: bytes) -> None:
        self._write(data)
        inventory = self.inventory
        for entry in inventory.entries:  # what a walk would see now (seeds filled the tree)
            st = os.lstat(os.path.join(inventory.root, entry.rel))
            entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
        if not self.handler.wants(inventory.entries[self.index]):
            return  # e.g. a fontconfig cache shorter than its header
        fd = open_file_alone(inventory, self.index)
        try:
            decision = self.handler.inspect(Item(inventory, self.index, fd))
            if not isinstance(decision, DECISIONS):
                raise TypeError(f"not a decision: {decision!r}")
            if isinstance(decision, Rewrite):
                with open(fd, "rb", closefd=False) as src:
                    decision.produce(src, io.BytesIO())
        finally:
            os.close(fd)
