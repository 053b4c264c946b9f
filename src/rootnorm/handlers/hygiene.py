"""Image hygiene: files that must not ship in an image, or that go stale with the mtime policy.

The filter is a few exact paths and two name patterns, so the handler costs next to nothing and
sits in every built-in profile. It only reports; removing these files is the image build's job.
"""

from __future__ import annotations

from rootnorm.decisions import Decision, Finding, Findings
from rootnorm.handlers.base import Handler, Item, Settings, name_key
from rootnorm.inventory import Entry

FINDINGS = {
    "machine-id-set": (
        "Empty the file (0 bytes, keep it) or write `uninitialized`: systemd then makes a new "
        "ID at first boot. Every machine booted from this image shares the one it holds."
    ),
    "random-seed-present": (
        "Remove it: every machine would start from the same saved entropy. "
        "systemd-random-seed writes a fresh one on the running system."
    ),
    "credential-secret-present": (
        "Remove it: it is the host key of systemd-creds, so every machine could decrypt the "
        "credentials of the others. systemd makes one per machine on first use."
    ),
    "update-stamp-present": (
        "Remove /etc/.updated and /var/.updated: they stamp /usr's build-time mtime, so "
        "ConditionNeedsUpdate= services (ldconfig, hwdb, journal catalog, sysusers) would "
        "judge the deployed /usr against the build machine's clock, and at /usr mtime 0 "
        "(ostree) never run after an update."
    ),
    "java-cds-archive": (
        "Create the archive as the last step of the build, after rootnorm (or at first boot "
        "under /var): the JVM stores each class-path jar's mtime and size and silently drops "
        "the archive when one differs, which the mtime policy and an ostree commit cause. "
        "`-Xshare:on` fails loudly instead, useful to test."
    ),
    "ldconfig-aux-cache": (
        "Remove /var/cache/ldconfig/aux-cache: it only speeds up the next ldconfig run and "
        "records every library's inode, ctime and size, which differ in every build."
    ),
    "log-not-empty": (
        "Empty or remove the build's logs under /var/log (dpkg, apt, alternatives, bootstrap): "
        "they hold wall-clock times of the build."
    ),
    "crontab-mtime-zero": (
        "Ship a systemd timer instead, or give the crontab a non-zero mtime at boot (a "
        "tmpfiles.d or ExecStartPre touch): cron ignores a crontab whose mtime is 0, which "
        "every file of an ostree deployment has."
    ),
    "man-db-index": (
        "Do not ship /var/cache/man: the index stores every page's build-time mtime (not "
        "reproducible) and, at mtime 0, man-db never sees a page change. man-db's daily job "
        "rebuilds it on the running system."
    ),
}

EXACT = {
    b"etc/machine-id": ("machine-id-set", "holds a machine ID"),
    b"var/lib/dbus/machine-id": ("machine-id-set", "holds a D-Bus machine ID"),
    b"var/lib/systemd/random-seed": ("random-seed-present", "saved random seed"),
    b"var/lib/random-seed": ("random-seed-present", "saved random seed"),
    b"var/lib/urandom/random-seed": ("random-seed-present", "saved random seed"),
    b"var/lib/systemd/credential.secret": ("credential-secret-present", "systemd-creds host key"),
    b"etc/.updated": ("update-stamp-present", "systemd update stamp"),
    b"var/.updated": ("update-stamp-present", "systemd update stamp"),
    b"var/cache/ldconfig/aux-cache": ("ldconfig-aux-cache", "ldconfig auxiliary cache"),
}
LOGS = b"var/log/"
# The names build logs have (dpkg.log, history.log, eipp.log.xz, dpkg.log.1, wtmp, syslog...):
# the pipeline asks the handler only about files named so.
LOG_KEYS = (
    b".log", b".xz", b".gz", b".journal", b".old", *(b".%d" % n for n in range(10)),
    b"wtmp", b"btmp", b"lastlog", b"faillog", b"syslog", b"messages",
)  # fmt: skip
# cron is installed where its /etc/crontab is; the finding names the crontabs beside it
CRONTABS = {b"etc/crontab": b"etc/cron.d", b"usr/etc/crontab": b"usr/etc/cron.d"}
MAN_CACHE = b"var/cache/man/"
MAN_INDEX_KEYS = (b".db", b".bt", b".dir", b".pag")  # man-db's index.* (gdbm, Berkeley DB, ndbm)
# The JDK's own default archives reference only the modules image, whose mtime the JVM does not
# check; they are fine. Any other .jsa can list jars.
JDK_DEFAULT_DIRS = (b"/lib/server/", b"/lib/client/")


def _classify(entry: Entry, settings: Settings) -> tuple[str, str] | None:
    known = EXACT.get(entry.rel)
    if known is not None:
        return known
    rel = entry.rel
    if entry.name.endswith(b".jsa"):
        parent = b"/" + rel[: -len(entry.name)]
        if entry.name.startswith(b"classes") and parent.endswith(JDK_DEFAULT_DIRS):
            return None
        return ("java-cds-archive", "Java class data sharing archive")
    if entry.name.startswith(b"index.") and rel.startswith(MAN_CACHE):
        return ("man-db-index", "man-db index")
    if rel.startswith(LOGS):
        return ("log-not-empty", "build log")
    if rel in CRONTABS and not settings.final_mtime_ns(entry):
        return ("crontab-mtime-zero", "crontab that will have mtime 0")
    return None


def _cron_d(item: Item, directory: bytes) -> str:
    """The crontabs in cron.d beside /etc/crontab, which get mtime 0 as well."""
    inventory = item.inventory
    entry = inventory.lookup(directory)
    if entry is None or not entry.is_dir:
        return ""
    parent = inventory.by_rel[directory]
    names = [e.name.decode("utf-8", "replace") for e in inventory.entries
             if e.parent == parent and e.is_file]  # fmt: skip
    return f", and in /{directory.decode()}: {', '.join(names)}" if names else ""


class HygieneHandler(Handler):
    name = "hygiene"
    summary = (
        "Report machine IDs, random seeds, update stamps, CDS archives, man-db indexes, "
        "ldconfig aux-cache, build logs, crontabs at mtime 0"
    )

    def name_keys(self) -> tuple[bytes, ...]:
        exact = {name_key(rel) for rel in (*EXACT, *CRONTABS)}
        return (*sorted(exact), b".jsa", *MAN_INDEX_KEYS, *LOG_KEYS)

    def wants(self, entry: Entry) -> bool:
        return entry.is_file and entry.size > 0 and _classify(entry, self.settings) is not None

    def inspect(self, item: Item) -> Decision:
        known = _classify(item.entry, self.settings)
        if known is None:
            return None
        finding_id, what = known
        if finding_id == "machine-id-set" and item.head().strip() == b"uninitialized":
            return None  # systemd's documented first-boot marker
        detail = f"{what} ({item.entry.size} bytes)"
        if finding_id == "crontab-mtime-zero":
            detail += _cron_d(item, CRONTABS[item.entry.rel])
        return Findings((Finding(finding_id, detail, FINDINGS[finding_id]),))
