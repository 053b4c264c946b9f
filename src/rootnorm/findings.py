"""Every id `--fail-on` can gate on, with one line each: `--list-findings` prints this table,
`--fail-on` accepts only its ids, and docs/findings.md has a section for each (a test checks
that the two agree)."""

from __future__ import annotations

from typing import NamedTuple


class Kind(NamedTuple):
    id: str
    handler: str
    summary: str


KINDS = (
    Kind("pyc-stale", "pyc", "a timestamp pyc that no longer matches its source; left as it is"),
    Kind("pyc-unsupported", "pyc", "named like a pyc, not one rootnorm can judge; left as it is"),
    Kind(
        "pyc-empty-source-pre37",
        "pyc",
        "a Python < 3.7 cache of an empty source: an ostree checkout will make it stale",
    ),
    Kind("fontconfig-stale", "fontconfig", "a fontconfig cache that no longer matches its fonts"),
    Kind("fontconfig-unsupported", "fontconfig", "named like a fontconfig cache, unknown layout"),
    Kind("gzip-unsupported", "gzip", "starts like gzip but is truncated, corrupt or unusual"),
    Kind("zip-unsupported", "zip", "a zip left alone: encrypted, zip64, v2+ signed, broken"),
    Kind("ar-unsupported", "ar", "starts like an ar archive but is thin, truncated or unsafe"),
    Kind("elf-build-path", "elf", "the binary names the directory it was built in"),
    Kind("elf-rpath-build-path", "elf", "RPATH/RUNPATH names a build directory"),
    Kind("elf-build-date", "elf", "a string that looks like `__DATE__` or `__TIME__`"),
    Kind("elf-no-build-id", "elf", "an executable or shared object without a build-id"),
    Kind("elf-unsupported", "elf", "an ELF file pyelftools cannot parse"),
    Kind("machine-id-set", "hygiene", "/etc/machine-id holds an ID every machine would share"),
    Kind("random-seed-present", "hygiene", "a saved entropy seed every machine would share"),
    Kind("credential-secret-present", "hygiene", "systemd-creds' host key ships in the image"),
    Kind("update-stamp-present", "hygiene", "/etc/.updated or /var/.updated ships in the image"),
    Kind("java-cds-archive", "hygiene", "a Java CDS archive the JVM will silently drop"),
    Kind("man-db-index", "hygiene", "man-db's index, with build-time mtimes"),
)
IDS = frozenset(kind.id for kind in KINDS)
ALL = "all"


def unknown(ids: frozenset[str]) -> list[str]:
    """The ids of `ids` that `--fail-on` does not know (sorted)."""
    return sorted(ids - IDS - {ALL})


def listing() -> list[str]:
    """`--list-findings`: one line per id."""
    width = max(len(kind.id) for kind in KINDS)
    return [f"{kind.id:{width}}  [{kind.handler}] {kind.summary}" for kind in KINDS]


def markdown_index() -> str:
    """The index table of docs/findings.md, made from this table."""
    rows = [f"| `{kind.id}` | `{kind.handler}` | {kind.summary} |" for kind in KINDS]
    return "\n".join(["| id | handler | what |", "|---|---|---|", *rows])
