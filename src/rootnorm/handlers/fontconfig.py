"""fontconfig directory caches: record each font directory's FINAL mtime in its cache.

fontconfig takes a cache as current only when it records the directory's mtime (seconds and
nanoseconds). The mtime policy gives directories new mtimes, so without this every cache goes
stale: fontconfig rescans the fonts at each start on a read-only /usr, and `fc-cache` rewrites
the caches. Only a cache that is current before the run is updated: a stale one (fonts changed
after `fc-cache` ran) must not be made to look current, so it is left and reported instead
(finding id `fontconfig-stale`).
"""

from __future__ import annotations

from rootnorm.audit import fontcache
from rootnorm.decisions import Decision, Finding, Findings, Leave, Outcome, Patch
from rootnorm.handlers.base import Handler, Item
from rootnorm.inventory import Entry

EXCLUDED_ADVICE = (
    "Regenerate the caches with fc-cache -f after rootnorm (they then record mtime 0), or run "
    "rootnorm with a profile that does not exclude var/cache/fontconfig: they record the font "
    "directories' build-time mtimes, which differ in every build."
)


def _relative(root: bytes, directory: bytes) -> bytes:
    """The root-relative path of a cache's font directory.

    `fc-cache` run inside the image (or with --sysroot) records image paths; run on the host
    with a config that points into the tree, it records host paths under the root.
    """
    if directory == root:
        return b""
    if directory.startswith(root.rstrip(b"/") + b"/"):
        return directory[len(root.rstrip(b"/")) + 1 :]
    return directory.lstrip(b"/")


def _show(mtime_ns: int) -> str:
    seconds, nanos = divmod(mtime_ns, fontcache.NS)
    return f"{seconds}.{nanos:09d}"


class FontconfigHandler(Handler):
    name = "fontconfig"
    summary = "Rewrite fontconfig caches' directory mtime to the final one, so they stay valid"
    patches_in_place = True

    def name_keys(self) -> tuple[bytes, ...]:
        # every plausible cache version, so an unknown one is still reported as unsupported
        return tuple(b".cache-%d" % version for version in range(1, 20))

    def wants(self, entry: Entry) -> bool:
        return (
            entry.is_file
            and entry.size >= fontcache.HEADER_SIZE
            and fontcache.is_cache_name(entry.name)
        )

    def inspect(self, item: Item) -> Decision:
        try:
            header = fontcache.parse(item.entry.name, item.head(), item.entry.size)
        except fontcache.NotACache as exc:
            return Leave(Outcome.UNSUPPORTED, f"not a fontconfig cache rootnorm knows: {exc}")
        shown = header.directory.decode("utf-8", "backslashreplace")
        directory_index = item.inventory.by_rel.get(
            _relative(item.inventory.root, header.directory), -1
        )
        directory = item.inventory.entries[directory_index] if directory_index >= 0 else None
        if directory is None or not directory.is_dir:
            return Leave(Outcome.SKIPPED, f"font directory {shown} is not in the tree")
        final = self.settings.final_mtime_ns(directory)
        if header.matches(final):
            return None
        if not self._current(header, directory):
            recorded = f"{header.checksum}.{header.checksum_nano:09d}"
            if directory.mtime_ns == 0 and (header.checksum or header.checksum_nano):
                detail = (
                    f"cache of {shown} records mtime {recorded}, the directory has 0: its mtime "
                    "was normalised by a run that excluded this cache's directory"
                )
                return Findings((Finding("fontconfig-excluded", detail, EXCLUDED_ADVICE),))
            return Leave(
                Outcome.STALE,
                f"cache of {shown} records mtime {recorded}, the directory has "
                f"{_show(directory.mtime_ns)}: fonts changed after fc-cache ran; run fc-cache "
                "before rootnorm",
            )
        return Patch(
            fontcache.CHECKSUM_OFFSET,
            header.patch(final),
            f"font directory mtime {_show(directory.mtime_ns)} -> {_show(final)}",
            anchor=directory_index,
        )

    def _current(self, header: fontcache.CacheHeader, directory: Entry) -> bool:
        """True when the cache matches the directory as it is now.

        `fc-cache` run with SOURCE_DATE_EPOCH records min(mtime, epoch) and no nanoseconds.
        """
        if header.matches(directory.mtime_ns):
            return True
        epoch = self.settings.source_date_epoch
        if epoch is None:
            return False
        clamped = min(directory.mtime_ns // fontcache.NS, epoch) * fontcache.NS
        return header.matches(clamped)
