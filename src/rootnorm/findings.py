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
    Kind("zip-unsupported", "zip", "a zip left alone: encrypted, v2+ signed, misaligned, broken"),
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
    Kind("ldconfig-aux-cache", "hygiene", "ldconfig's aux-cache: inode, ctime and size records"),
    Kind("log-not-empty", "hygiene", "a log under var/log with the build's wall-clock times"),
    Kind("crontab-mtime-zero", "hygiene", "crontabs that cron will ignore with mtime 0 (ostree)"),
    Kind("fontconfig-excluded", "fontconfig", "a cache left stale: its directory is excluded"),
    Kind("shadow-last-change", "shadow", "/etc/shadow dates left: no SOURCE_DATE_EPOCH given"),
    Kind("keystore-password", "keystore", "a keystore whose password is not `changeit`"),
    Kind("keystore-pkcs12", "keystore", "a PKCS#12 keystore: random salts differ every build"),
    Kind("groovy-timestamp", "groovy", "Groovy classes with a compile-time field name"),
)
IDS = frozenset(kind.id for kind in KINDS)
ALL = "all"


def unknown(ids: frozenset[str]) -> list[str]:
    """The ids of `ids` that `--fail-on` does not know (sorted): every id of the table, and
    HANDLER-stale / HANDLER-unsupported of every handler, are known."""
    from rootnorm.handlers import REGISTRY

    outcomes = {f"{name}-{outcome}" for name in REGISTRY for outcome in ("stale", "unsupported")}
    return sorted(ids - IDS - outcomes - {ALL})


def listing() -> list[str]:
    """`--list-findings`: one line per id."""
    width = max(len(kind.id) for kind in KINDS)
    return [f"{kind.id:{width}}  [{kind.handler}] {kind.summary}" for kind in KINDS]


def markdown_index() -> str:
    """The index table of docs/findings.md, made from this table."""
    rows = [f"| `{kind.id}` | `{kind.handler}` | {kind.summary} |" for kind in KINDS]
    return "\n".join(["| id | handler | what |", "|---|---|---|", *rows])
