"""What counts as a leaked build path or a compile-time date, in names and in raw string data.

Two rules, each with a reason:

- A path *inside* a build tree (a DWARF file name, a line-table directory, an RPATH, a string in
  read-only data) is a leak when it lies under a build root: the usual build directories of
  distribution builders, CI systems and home directories, plus those the user names.
- DW_AT_comp_dir *is* the build directory by definition, so any absolute value is a leak except
  one a prefix map chose on purpose (`/usr/src/debug/...`, the convention of rpm, Arch and Yocto).

In raw string data only paths that end like a source file are reported (`__FILE__` in assert
messages is the usual carrier), so run-time paths such as `/tmp/.X11-unix/X%d` are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_BUILD_ROOTS = (
    "/builddir",  # mock, rpmbuild (Fedora, CentOS, RHEL)
    "/build",  # sbuild, pbuilder (Debian, Ubuntu)
    "/usr/src/packages",  # openSUSE's build
    "/tmp",
    "/var/tmp",
    "/home",
    "/root",
    "/__w",  # GitHub Actions container jobs
    "/builds",  # GitLab CI
    "/workspace",
)
DEBUG_PREFIXES = (b"/usr/src/debug",)

SOURCE_SUFFIXES = (
    "c", "cc", "cpp", "cxx", "c\\+\\+", "h", "hh", "hpp", "hxx", "inc", "def", "s", "S", "m",
    "mm", "f", "f90", "F90", "rs", "go", "y", "l", "vala", "zig", "cu",
)  # fmt: skip

_MONTHS = frozenset(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_HOUR = frozenset(b"%02d" % hour for hour in range(24))
# The regexes start with a literal byte so the engine can skip ahead fast (a leading lookbehind
# or alternation costs 5-10x); what precedes the match is checked by hand.
# " dd yyyy[ hh:mm:ss]" after a month name; __DATE__ pads the day with a space, never a zero.
_DATE_TAIL = re.compile(
    rb" (?: [1-9]|[12][0-9]|3[01]) (?:19[7-9][0-9]|2[01][0-9][0-9])"
    rb"(?: (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?(?![0-9])"
)
# ":mm:ss" closing an "hh:mm:ss" that is a whole NUL-terminated string (__TIME__ on its own).
_TIME_TAIL = re.compile(rb":[0-5][0-9]:[0-5][0-9]\x00")
_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_PATH_CHAR = _ALNUM | frozenset(b"_.~/-")


def _under(path: bytes, roots: Iterable[bytes]) -> bool:
    return any(path == root or path.startswith(root + b"/") for root in roots)


class BuildPaths:
    """The build roots of one run: the defaults plus the profile's `build_path_prefixes`."""

    def __init__(self, extra_roots: Iterable[str] = ()) -> None:
        roots = {root.rstrip("/") for root in (*DEFAULT_BUILD_ROOTS, *extra_roots)}
        self.roots = tuple(sorted(root.encode() for root in roots if root))
        alternatives = b"|".join(re.escape(root[1:]) for root in self.roots)
        suffixes = "|".join(SOURCE_SUFFIXES).encode()
        self._in_data = re.compile(
            rb"/(?:" + alternatives + rb")/[\x21-\x7e]*?\.(?:" + suffixes + rb")(?![A-Za-z0-9_.+])"
        )

    def is_build_path(self, path: bytes) -> bool:
        """An absolute path under a build root."""
        return _under(path, self.roots)

    def is_leaked_comp_dir(self, comp_dir: bytes) -> bool:
        """An absolute DW_AT_comp_dir that no prefix map moved to a stable place."""
        return comp_dir.startswith(b"/") and not _under(comp_dir, DEBUG_PREFIXES)

    def in_data(self, data: bytes) -> list[bytes]:
        """Source-file paths under a build root found in raw string data, in order, distinct."""
        found = (
            match.group()
            for match in self._in_data.finditer(data)
            if match.start() == 0 or data[match.start() - 1] not in _PATH_CHAR
        )
        return list(dict.fromkeys(found))


def dates_in(data: bytes) -> list[bytes]:
    """`__DATE__`/`__TIME__`-like strings in raw data, in order, distinct."""
    found = []
    for match in _DATE_TAIL.finditer(data):
        start = match.start() - 3
        if data[start : match.start()] in _MONTHS and (start == 0 or data[start - 1] not in _ALNUM):
            found.append(data[start : match.end()])
    for match in _TIME_TAIL.finditer(data):
        start = match.start() - 2
        if start >= 1 and data[start - 1] == 0 and data[start : match.start()] in _HOUR:
            found.append(data[start : match.end() - 1])
    return list(dict.fromkeys(found))
