"""The one place that decides a timestamp's final value under the profile's mtime policy.

File mtimes, pyc headers and archive timestamps all ask this module, so a pyc header can never
disagree with the mtime its source is given.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

NS = 1_000_000_000
# pyc, gzip and ar headers hold unsigned 32-bit seconds (up to 2106-02-07): no timestamp
# rootnorm writes may go beyond. zip's DOS dates (1980-2107) hold every such value from 1980
# on; earlier ones become 1980-01-01.
MAX_SECONDS = 0xFFFF_FFFF


class Policy(str, Enum):
    ZERO = "zero"  # every entry 0 (what an ostree checkout gives anyway)
    CLAMP = "clamp"  # entries newer than SOURCE_DATE_EPOCH get it, older ones keep theirs
    SET = "set"  # every entry gets one value (OpenEmbedded's REPRODUCIBLE_TIMESTAMP_ROOTFS)


class Clock(NamedTuple):
    policy: Policy
    epoch: int = 0  # SOURCE_DATE_EPOCH for clamp, the value for set; unused for zero

    def final_ns(self, mtime_ns: int) -> int:
        """The mtime (in ns) an entry that has `mtime_ns` now will have when the run is done."""
        if self.policy is Policy.ZERO:
            return 0
        limit = self.epoch * NS
        if self.policy is Policy.SET:
            return limit
        return min(mtime_ns, limit)

    def final_seconds(self, seconds: int) -> int:
        """The same rule for a whole-second timestamp stored inside a file (gzip, zip, ar)."""
        return self.final_ns(seconds * NS) // NS

    def describe(self) -> str:
        if self.policy is Policy.ZERO:
            return "zero"
        return f"{self.policy.value} {self.epoch}"
