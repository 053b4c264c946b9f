"""Fault injection on the mixed tree: make the Nth call of one system call fail with `strace -f
-e inject=SYSCALL:error=ERRNO:when=N`, then check the run and one clean rerun (issue 13, item 6).

N counts the calls of that system call made by the rootnorm process (strace counts per syscall
and per tracee), so only calls that touch the tree are picked: a first run under `strace -y`
(which shows the path behind every fd) lists them. The injecting run logs the call it failed,
which names the entry that failed.

Required of the failing run: exit 0 with the tree as one clean run leaves it, or exit 3 with the
failing entry named; never exit 4, never a traceback; no corrupt file; every entry not related
to the failing one (the entry itself, what is below it, its directory, its hard-link group, the
sources and caches of one module) finished as one clean run does it. Of the rerun without
faults: exit 0, no temp file left, the tree as one clean run leaves it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import killrun
import mixedtree
import treestate
from killrun import Config, Reference
from testlib import unavailable

# The calls the walk, the handlers and the writer make (strace -c of a run; Python 3.11's
# os.stat/fstat are newfstatat, os.rename is renameat). fdatasync, renameat2 and statx are not
# made by this Python: a case for them finds no call to fail.
SYSCALLS = (
    "openat", "newfstatat", "getdents64", "read", "pread64", "pwrite64", "write", "lseek",
    "fsync", "renameat", "linkat", "unlinkat", "utimensat", "fchown", "fchmod", "fsetxattr",
    "fgetxattr", "flistxattr", "close",
)  # fmt: skip
ERRNOS = ("EIO", "ENOSPC", "EROFS", "EACCES")
# *at calls: the entry is the last name joined to the directory fd before it
AT_CALLS = {
    "openat", "newfstatat", "unlinkat", "utimensat", "linkat", "renameat", "renameat2",
    "symlinkat", "mknodat", "readlinkat", "statx", "fchownat", "fchmodat", "faccessat2",
}  # fmt: skip
LINE = re.compile(r"^(\d+) +(\w+)\((.*)$")
FD_PATH = re.compile(r"\d+<([^>]*)>")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
TEMP = re.compile(r"^\.(.*)\.[0-9a-f]{8}\.rootnorm-tmp$", re.DOTALL)


def strace(config: Config, root: Path, log: Path, *options: str) -> killrun.Run:
    if shutil.which("strace") is None:
        unavailable("fault injection needs strace")
    command = ["strace", "-f", "-qq", "-y", "-o", str(log), *options, *config.command(root)]
    proc = subprocess.run(command, capture_output=True, env=config.env(), timeout=300)
    output = (proc.stdout + proc.stderr).decode("utf-8", "backslashreplace")
    return killrun.Run(proc.returncode, output, 0.0)


def _calls(log: Path, syscall: str) -> list[str]:
    """The logged calls of `syscall` by the first process, in order."""
    main = None
    calls = []
    for line in log.read_text(encoding="utf-8", errors="backslashreplace").splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        main = main or match.group(1)
        if match.group(1) == main and match.group(2) == syscall:
            calls.append(line)
    return calls


def tree_calls(base: Path, config: Config, syscall: str) -> list[tuple[int, bytes]]:
    """The calls of `syscall` that touch the tree in a run of `config`: their numbers (from 1,
    as `when=` counts them) and the entries they are about."""
    root = mixedtree.fresh(base)
    log = base / "count.log"
    strace(config, root, log, "-e", f"trace={syscall}")
    top = mixedtree.work(base)
    found = ((n, entry_of(line, syscall, top)) for n, line in enumerate(_calls(log, syscall), 1))
    return [(n, entry) for n, entry in found if entry is not None]


def entry_of(line: str, syscall: str, top: Path) -> bytes | None:
    """The entry a logged call was about, relative to `top` (temp files: the file they
    replace); None when the call was not about the tree."""
    args = line.split("(", 1)[1].rsplit(") = ", 1)[0]  # not the fd it returned
    fds = FD_PATH.findall(args)
    names = STRING.findall(args) if syscall in AT_CALLS else []
    if names and names[-1] and not names[-1].startswith("/"):
        path = os.path.join(fds[-1] if fds else "", names[-1])
    elif names and names[-1].startswith("/"):
        path = names[-1]
    elif fds:
        path = fds[0]
    else:
        return None
    raw = path.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1")
    prefix = os.fsencode(top) + b"/"
    if not raw.startswith(prefix):
        return None
    rel = raw[len(prefix) :]
    directory, name = os.path.split(rel)
    temp = TEMP.match(name.decode("latin-1"))
    if temp:
        rel = os.path.join(directory, temp.group(1).encode("latin-1"))
    return rel


def related(rel: bytes, failing: bytes, ref: Reference) -> bool:
    """Whether `rel` may be left unfinished because of a failure on `failing`: the entry, what
    is below it, its directory, its hard-link group, and one module's source and caches."""
    if rel == failing or rel.startswith(failing + b"/") or rel == os.path.dirname(failing):
        return True
    if treestate.own(failing):
        return True  # the journal: the change it was to announce (named in the output) is not made
    if os.path.basename(failing) == b"__pycache__" and _module(rel) is not None:
        # a cache in it may have failed: its source keeps its mtime (so it can be redone)
        return os.path.dirname(rel) == os.path.dirname(failing)
    if b"/fontconfig/cache/" in failing and rel.startswith(b"root/usr/share/fonts"):
        return True  # a font cache that failed: its font directory keeps its mtime
    if any(rel in group and failing in group for group in ref.before.groups):
        return True
    return _module(rel) is not None and _module(rel) == _module(failing)


def _named(failing: bytes, output: str, ref: Reference) -> bool:
    """Whether the output names the failing entry, another name of its inode, or (for a
    directory, reached and checked for each entry below it) an entry below it."""
    names = {failing}.union(*(g for g in ref.before.groups if failing in g))
    names.update(rel for rel in ref.before.entries if rel.startswith(failing + b"/"))
    shown = [rel[len(b"root") :] or b"." for rel in names if rel.startswith(b"root")]
    forms = {
        form
        for raw in shown
        for form in (os.fsdecode(raw), raw.decode("utf-8", "backslashreplace"))
    }
    return any(f"{name} [" in output or f"{name}: " in output for name in forms)


def _module(rel: bytes) -> tuple[bytes, bytes] | None:
    directory, name = os.path.split(rel)
    if os.path.basename(directory) == b"__pycache__":
        return os.path.dirname(directory), name.split(b".")[0]
    if name.endswith((b".py", b".pyc")):
        return directory, name.split(b".")[0]
    return None


@dataclass
class Case:
    syscall: str
    error: str  # an errno name, or a signal name for signal_case
    when: int
    code: int = 0
    entry: bytes | None = None
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        entry = treestate.show(self.entry) if self.entry is not None else "no call failed"
        what = "signal" if self.error in ("INT", "TERM", "HUP", "KILL") else "error"
        point = f"inject={self.syscall}:{what}={self.error}:when={self.when}"
        return f"{point} -> exit {self.code}, {entry}:" + treestate.summary(self.problems)


def case(base: Path, config: Config, ref: Reference, syscall: str, error: str, when: int) -> Case:
    """One injected failure and one clean rerun; every problem found is in the result."""
    result = Case(syscall, error, when)
    root = mixedtree.fresh(base)
    top = mixedtree.work(base)
    log = base / "inject.log"
    done = strace(config, root, log, "-e", f"trace={syscall}",
                  "-e", f"inject={syscall}:error={error}:when={when}")  # fmt: skip
    result.code = done.code
    injected = [line for line in _calls(log, syscall) if "(INJECTED)" in line]
    if not injected:
        result.problems.append("the call was not made (the run took another path)")
        return result
    result.entry = entry_of(injected[0], syscall, top)
    output = done.output.strip()
    state = treestate.capture(top)
    failing = result.entry
    if done.code == 2 and failing == b"root" and not treestate.differences(ref.before, state):
        return result  # ROOT itself could not be reached: a usage error, nothing changed
    if "Traceback" in output or done.code not in (0, 3):
        result.problems.append(f"exit {done.code}: {output[-400:]}")
    result.problems += [
        f"corrupt: {line}" for line in treestate.corrupt(state, ref.before, ref.after)
    ]
    if done.code == 3 and failing is not None and not _named(failing, output, ref):
        result.problems.append(f"exit 3 without naming {treestate.show(failing)}: {output[-300:]}")
    left = treestate.differences_by_name(ref.after, state)
    if done.code == 0:
        result.problems += [f"exit 0 but unfinished: {line}" for _names, line in left]
    elif failing is not None:
        result.problems += [
            f"other entry unfinished: {line}"
            for names, line in left
            # the journal is kept after a failure, for the next run
            if not any(related(rel, failing, ref) or treestate.own(rel) for rel in names)
        ]
    final = killrun.run(config, root)
    if final.code != 0 or "Traceback" in final.output:
        result.problems.append(f"rerun exit {final.code}: {final.output.strip()[-300:]}")
    state = treestate.capture(top)
    result.problems += [f"temp file left after the rerun: {treestate.show(n)}"
                        for n in treestate.own_leftovers(state)]  # fmt: skip
    result.problems += [f"not converged: {line}"
                        for line in treestate.differences(ref.after, state, None)]  # fmt: skip
    return result


def point(calls: list[tuple[int, bytes]], where: str) -> int:
    """The number of the "first", "middle" or "last" of `calls`."""
    numbers = [n for n, _entry in calls]
    return {"first": numbers[0], "middle": numbers[len(numbers) // 2], "last": numbers[-1]}[where]


def signal_case(
    base: Path, config: Config, ref: Reference, sig: str, syscall: str, when: int
) -> Case:
    """`sig` delivered to rootnorm on return from the `when`th call of `syscall`, then one clean
    run: the signalled run must stop by itself (no death by the signal), without a traceback
    or exit 4, leaving no temp file and nothing corrupt; the rerun must converge."""
    result = Case(syscall, sig, when)
    root = mixedtree.fresh(base)
    top = mixedtree.work(base)
    log = base / "signal.log"
    done = strace(config, root, log, "-e", f"trace={syscall}",
                  "-e", f"inject={syscall}:signal={sig}:when={when}")  # fmt: skip
    result.code = done.code
    calls = _calls(log, syscall)
    result.entry = entry_of(calls[when - 1], syscall, top) if len(calls) >= when else None
    output = done.output.strip()
    if done.code < 0 or done.code == 4 or "Traceback" in output:
        result.problems.append(f"signalled run: exit {done.code}: {output[-400:]}")
    state = treestate.capture(top)
    result.problems += [f"left by the signalled run: {treestate.show(n)}"
                        for n in treestate.temp_leftovers(state)]  # fmt: skip
    result.problems += [
        f"corrupt: {line}" for line in treestate.corrupt(state, ref.before, ref.after)
    ]
    final = killrun.run(config, root)
    if final.code != 0 or "Traceback" in final.output:
        result.problems.append(f"rerun exit {final.code}: {final.output.strip()[-300:]}")
    killed, state = state, treestate.capture(top)
    result.problems += [f"temp file left after the rerun: {treestate.show(n)}"
                        for n in treestate.own_leftovers(state)]  # fmt: skip
    result.problems += [f"not converged: {line}"
                        for line in treestate.differences(ref.after, state, killed)]  # fmt: skip
    return result
