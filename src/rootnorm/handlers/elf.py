"""Audit ELF files for what a post-processor must not fix: leaked build paths, compile-time
dates, a missing GNU build-id. ELF files are never modified (build-ids, signatures and debug
links depend on their bytes).

`wants` keeps the cost down on big trees: only regular files of at least 64 bytes, under the
usual binary locations, whose names do not end like a well-known non-ELF file. `inspect` checks
the magic in the shared head before pyelftools is even imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from rootnorm.audit.buildpaths import BuildPaths
from rootnorm.decisions import Decision, Finding, Findings, Leave, Outcome
from rootnorm.handlers.base import Handler, Item, Option, Settings
from rootnorm.inventory import Entry, Inventory

ELF_MAGIC = b"\x7fELF"
MIN_SIZE = 64  # an ELF64 header; nothing smaller is worth opening
SHOWN = 3  # examples per finding; the rest are counted

# Names in lib/ and bin/ trees that are never ELF: skipping them saves an open per file.
NOT_ELF = (
    b".py", b".pyc", b".pyi", b".pth", b".h", b".hpp", b".txt", b".md", b".rst", b".html",
    b".js", b".css", b".json", b".xml", b".svg", b".png", b".gz", b".xz", b".bz2", b".zst",
    b".jar", b".mo", b".pc", b".cmake", b".la", b".a", b".pl", b".pm", b".rb", b".typelib",
    b".conf", b".cfg", b".ini", b".desktop", b".service", b".rules", b".sh",
)  # fmt: skip

FINDINGS = {
    "elf-build-path": (
        "Build with -ffile-prefix-map=$PWD=. (or =/usr/src/debug/<name>), which also covers "
        "__FILE__ and DWARF; rpmbuild and dpkg-buildflags add it for you. Rebuild: a binary "
        "must not be edited after linking."
    ),
    "elf-rpath-build-path": (
        "Drop the RPATH/RUNPATH from the link (or point it at $ORIGIN or the installed "
        "library directory): a search path into a build or home directory lets whoever can "
        "create it there inject libraries."
    ),
    "elf-build-date": (
        "Likely __DATE__/__TIME__. Build with SOURCE_DATE_EPOCH set (GCC 7+ and Clang then use "
        "it, and the value is reproducible) or drop the macros. A date from a package build "
        "with SOURCE_DATE_EPOCH is already reproducible: compare it with that epoch."
    ),
    "elf-no-build-id": (
        "Link with -Wl,--build-id (Go: -ldflags=-B=gobuildid). Debuginfo lookup, crash "
        "reporting and package tooling identify binaries by it."
    ),
}


def _show(values: Sequence[tuple[str, bytes]], cut: bool = False) -> str:
    shown = "; ".join(
        f"{where} {value.decode('utf-8', 'backslashreplace')}" for where, value in values[:SHOWN]
    )
    more = len(values) - SHOWN
    if cut:
        return f"{shown} (DWARF read up to the first unit that leaks)"
    return f"{shown} (+{more} more)" if more > 0 else shown


def _prefixes(paths: Sequence[str]) -> tuple[bytes, ...]:
    """Root-relative directory prefixes; "" (or "/") stands for the whole tree."""
    return tuple(path.strip("/").encode() + b"/" if path.strip("/") else b"" for path in paths)


def _installed(inventory: Inventory, directory: bytes) -> bool:
    """True when the image has this directory: the RUNPATH names where it is installed."""
    return inventory.lookup(directory.strip(b"/")) is not None


class ElfHandler(Handler):
    name = "elf"
    summary = "Audit ELF files: build paths, __DATE__/__TIME__ strings, missing build-id"
    options = (
        Option(
            "paths",
            ("bin", "lib", "lib64", "opt", "sbin", "usr"),
            'root-relative directories searched for ELF files ("" for the whole tree)',
        ),
        Option(
            "exclude",
            ("usr/include", "usr/lib/debug", "usr/lib/firmware", "lib/firmware", "usr/share"),
            "root-relative directories inside `paths` that are not searched (usr/lib/debug: "
            "separate debuginfo is not what runs, and its full DWARF is slow to read)",
        ),
        Option(
            "build_path_prefixes",
            (),
            "more build roots (absolute), besides /builddir, /build, /tmp, /home, /root, ...",
        ),
    )

    def __init__(self, settings: Settings, options: Mapping[str, object]) -> None:
        super().__init__(settings, options)
        self.paths = _prefixes(cast(Sequence[str], self.opts["paths"]))
        self.exclude = _prefixes(cast(Sequence[str], self.opts["exclude"]))
        self.build_paths = BuildPaths(
            (*cast(Sequence[str], self.opts["build_path_prefixes"]), *settings.build_path_prefixes)
        )

    def wants(self, entry: Entry) -> bool:
        return (
            entry.is_file
            and entry.size >= MIN_SIZE
            and not entry.name.endswith(NOT_ELF)
            and entry.rel.startswith(self.paths)
            and not entry.rel.startswith(self.exclude)
        )

    def costly(self, inventory: Inventory, index: int) -> bool:
        return True  # parsed by pyelftools

    def inspect(self, item: Item) -> Decision:
        if item.head()[:4] != ELF_MAGIC:
            return None
        from rootnorm.audit import elfscan  # pyelftools only once an ELF file is seen

        with item.reader() as stream:
            try:
                report = elfscan.scan(stream, self.build_paths)
            except elfscan.Unparsable as exc:
                return Leave(Outcome.UNSUPPORTED, f"ELF file pyelftools cannot parse: {exc}")
        rpaths = [
            (kind, path) for kind, path in report.rpaths if not _installed(item.inventory, path)
        ]
        found = []
        if report.build_paths:
            detail = _show(report.build_paths, report.dwarf_cut)
            found.append(Finding("elf-build-path", detail, FINDINGS["elf-build-path"]))
        for finding_id, values in (
            ("elf-rpath-build-path", rpaths),
            ("elf-build-date", report.dates),
        ):
            if values:
                found.append(Finding(finding_id, _show(values), FINDINGS[finding_id]))
        if report.linked and not report.build_id:
            detail = "executable or shared object without a .note.gnu.build-id"
            found.append(Finding("elf-no-build-id", detail, FINDINGS["elf-no-build-id"]))
        return Findings(tuple(found)) if found else None
