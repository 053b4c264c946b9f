"""/etc/shadow: last password change dates clamped to SOURCE_DATE_EPOCH (in days).

Without SOURCE_DATE_EPOCH (the ostree profile's zero policy does not need one) the dates are
left and reported: day 0 would force every password to be changed at the next login.
"""

from __future__ import annotations

from rootnorm.clock import Policy
from rootnorm.decisions import Decision, Finding, Findings, Leave, Outcome
from rootnorm.handlers.base import Handler, Item, Option
from rootnorm.handlers.replace import patch_or_rewrite
from rootnorm.inventory import Entry

PATHS = (b"etc/shadow", b"etc/shadow-", b"usr/etc/shadow", b"usr/etc/shadow-")
MAX_SIZE = 16 << 20
ADVICE = (
    "Run rootnorm with SOURCE_DATE_EPOCH (--source-date-epoch): the dates are clamped to it. "
    "They are the build's day, so two builds differ."
)


class ShadowHandler(Handler):
    name = "shadow"
    summary = "/etc/shadow: last password change days clamped to SOURCE_DATE_EPOCH"
    patches_in_place = True
    options = (
        Option(
            "fix",
            True,
            "Clamp the dates; false only reports them (shadow-last-change), as the audit "
            "profile does",
        ),
    )

    def name_keys(self) -> tuple[bytes, ...]:
        return (b"shadow", b"shadow-")

    def wants(self, entry: Entry) -> bool:
        return entry.is_file and 0 < entry.size <= MAX_SIZE and entry.rel in PATHS

    def _epoch(self) -> int | None:
        epoch = self.settings.source_date_epoch
        clock = self.settings.clock
        if epoch is None and clock.policy is Policy.SET:
            return clock.epoch or None  # a profile's `set` value
        return epoch

    def inspect(self, item: Item) -> Decision:
        from rootnorm.formats import shadow  # only for a tree that has such a file

        data = item.pread(item.entry.size, 0)
        epoch = self._epoch()
        try:
            if epoch is None:
                dates = {days for _, _, days in shadow.last_changes(data) if days}
                if not dates:
                    return None
                shown = ", ".join(str(days) for days in sorted(dates))
                detail = f"last password change on day {shown} (days since 1970); no epoch"
                return Findings((Finding("shadow-last-change", detail, ADVICE),))
            limit = epoch // shadow.DAY
            if limit < 1:
                return Leave(
                    Outcome.SKIPPED,
                    "SOURCE_DATE_EPOCH is on day 0, which would "
                    "force a password change at next login",
                )
            clamped = shadow.clamp(data, limit)
        except shadow.NotShadow as exc:
            return Leave(Outcome.UNSUPPORTED, f"not a shadow file: {exc}")
        if not clamped.lines:
            return None
        if not self.opts["fix"]:
            shown = ", ".join(str(days) for days in clamped.dates)
            detail = f"last password change on day {shown}, later than SOURCE_DATE_EPOCH ({limit})"
            return Findings((Finding("shadow-last-change", detail, ADVICE),))
        what = (
            f"last password change {'/'.join(map(str, clamped.dates))} -> {limit} "
            f"on {clamped.lines} line(s)"
        )
        return patch_or_rewrite(data, clamped.data, what)
