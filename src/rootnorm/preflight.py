"""Checks made before anything is changed: each refuses (UsageError, exit 2) or warns once,
up front, instead of a run that fails late or entry by entry."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import time
from collections.abc import Sequence

from rootnorm import findings, handlers
from rootnorm.clock import MAX_SECONDS
from rootnorm.errors import UsageError
from rootnorm.profile import Profile


def warn(message: str) -> None:
    print(f"rootnorm: warning: {message}", file=sys.stderr)


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def epoch(flag: str | None, needed: bool) -> int | None:
    """SOURCE_DATE_EPOCH from the flag or (when `needed`) the environment, refused when it is
    not ASCII digits or does not fit the headers rootnorm writes. A flag is checked even when
    the profile does not need it; None when not needed."""
    if flag is None and not needed:
        return None
    raw = flag if flag is not None else os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    source = "--source-date-epoch" if flag is not None else "SOURCE_DATE_EPOCH"
    if not re.fullmatch("[0-9]+", raw):
        raise UsageError(
            f"{source}={raw!r} is not a non-negative integer (seconds since 1970-01-01 UTC, "
            "ASCII digits 0-9 only)"
        )
    digits = raw.lstrip("0")
    if len(digits) > len(str(MAX_SECONDS)) or int(raw) > MAX_SECONDS:
        milliseconds = (
            " (a value in milliseconds? divide it by 1000)" if len(digits) in (12, 13) else ""
        )
        raise UsageError(
            f"{source}={raw} is too large: pyc, gzip and ar headers hold at most {MAX_SECONDS} "
            f"({_utc(MAX_SECONDS)}){milliseconds}"
        )
    value = int(raw)
    if not needed:
        return None
    if value > time.time():
        warn(
            f"{source}={value} ({_utc(value)}) is in the future: the clamp policy leaves "
            "every mtime up to that date as it is, and the set policy dates every entry after today"
        )
    return value


def fail_on(raw: str) -> frozenset[str]:
    ids = frozenset(filter(None, (part.strip() for part in raw.split(","))))
    unknown = findings.unknown(ids)
    if unknown:
        raise UsageError(
            f"--fail-on: unknown id {', '.join(unknown)}; valid ids: all, "
            f"{', '.join(sorted(findings.IDS))} (rootnorm --list-findings says what each means)"
        )
    return ids


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    """Whether the walk leaves root-relative `rel` out: it, or a directory above it, matches
    an exclude pattern (the walk's own rule: fnmatch, "*" also matches "/")."""
    parts = rel.split("/")
    prefixes = ("/".join(parts[: n + 1]) for n in range(len(parts)))
    return any(fnmatch.fnmatchcase(p, pattern) for p in prefixes for pattern in patterns)


def report_path(path: str, root: str, profile: Profile) -> None:
    """Refuse, before anything is changed, a report that cannot be written or that would
    land in the walked tree (it would then be part of the image, and its directory's mtime
    would change after the run: the next --check would fail)."""
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise UsageError(f"--report {path}: is a directory")
    target = real if os.path.exists(real) else os.path.dirname(real)
    if not os.path.isdir(os.path.dirname(real)):
        raise UsageError(f"--report {path}: directory {os.path.dirname(real)} does not exist")
    if not os.access(target, os.W_OK):
        raise UsageError(f"--report {path}: not writable ({target}); nothing was changed")
    root_real = os.path.realpath(root)
    rel = os.path.relpath(real, root_real)
    if rel == ".." or rel.startswith("../"):
        return
    if _excluded(rel, profile.exclude):
        return
    other_fs = os.stat(os.path.dirname(real)).st_dev != os.stat(root_real).st_dev
    if other_fs and not profile.cross_mounts:
        return  # the walk does not go there
    raise UsageError(
        f"--report {path} is inside ROOT: it would become part of the tree and the next --check "
        "would find it; write it outside ROOT (or under a path the profile excludes)"
    )


def profile_warnings(profile: Profile) -> None:
    """A profile that will quietly do less than it seems to."""
    if not profile.steps:
        warn(f"profile {profile.name} has no [[handler]]: nothing will be inspected or changed")
    elif profile.explicit_policy and not any(
        handlers.load(step.name).whole_tree for step in profile.steps
    ):
        warn(
            f"profile {profile.name} sets [mtime] policy = {profile.policy.value!r} but has no "
            "mtime handler: no entry's mtime will be changed (add a last [[handler]] with "
            'name = "mtime" to apply it)'
        )


def writable(root: str, profile: Profile) -> None:
    """Say once, up front, what would otherwise fail for every entry."""
    try:
        st = os.stat(root)
        read_only = bool(os.statvfs(root).f_flag & os.ST_RDONLY)
    except OSError:
        return  # the walk says what is wrong with ROOT
    if read_only and not profile.cross_mounts:
        warn(
            f"ROOT {root} is on a read-only file system: every change it needs will fail "
            "(--check says what would change without trying)"
        )
        return
    uid = os.geteuid()
    if uid != 0 and st.st_uid != uid:
        warn(
            f"running as uid {uid} on a tree owned by uid {st.st_uid}: the mtime and content "
            "of entries you do not own cannot be changed (run as root, or with --check)"
        )
