"""Command line: `rootnorm [options] ROOT` and `python -m rootnorm`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from rootnorm import __version__, findings, handlers, pipeline, preflight, stopping
from rootnorm import profile as profiles
from rootnorm.clock import Policy
from rootnorm.errors import UsageError
from rootnorm.progress import Progress
from rootnorm.report import EXAMPLES, EXIT_FAILED, EXIT_USAGE, Report

EXIT_INTERNAL = 4

EPILOG = """\
exit codes:
  0  done, or (with --check) the tree is already clean
  1  --check found something to change, or a --fail-on finding was found
  2  usage, profile or ROOT error: nothing was changed
  3  finished, but some files could not be processed (the first few are listed with the
     reason; --report or --verbose lists all)
  4  internal error (a bug in rootnorm; please report it)

Paths in the summary and the report are relative to ROOT: ./usr/bin/[ is ROOT/usr/bin/[.

examples:
  rootnorm --check --profile ostree /usr             what would change on a live system
  rootnorm --profile ostree /path/to/rootfs           before `ostree commit`
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) rootnorm --profile rpm DESTDIR
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rootnorm",
        description="Make an OS image root filesystem reproducible and fast to boot: pyc "
        "headers match their sources' final mtimes, mtimes follow one policy, archives are "
        "normalised, and what cannot be fixed is reported.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", metavar="ROOT", nargs="?", help="the root filesystem tree")
    parser.add_argument(
        "--profile",
        default="generic",
        metavar="NAME|FILE",
        help=f"built-in profile ({', '.join(profiles.BUILTIN)}) or a TOML file (default: generic)",
    )
    parser.add_argument(
        "--source-date-epoch",
        metavar="N",
        help="SOURCE_DATE_EPOCH for the clamp and set policies (default: the environment's); "
        "seconds since 1970, 0 to 4294967295 (the most pyc, gzip and ar headers hold)",
    )
    parser.add_argument(
        "--mtime-policy",
        choices=[p.value for p in Policy],
        help="override the profile's mtime policy: zero (every mtime 0), clamp (newer than "
        "SOURCE_DATE_EPOCH get it) or set (every entry gets SOURCE_DATE_EPOCH)",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if anything would change"
    )
    parser.add_argument(
        "--cross-mounts",
        action="store_true",
        help="descend into mount points below ROOT (e.g. /usr in rpm-ostree's sandbox)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="worker processes (0: one per CPU)"
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON report to FILE, outside ROOT ('-': standard output, and the summary "
        "goes to standard error)",
    )
    parser.add_argument(
        "--build-path-prefix",
        action="append",
        default=[],
        metavar="PATH",
        help="a build root the elf audit reports leaks of (repeatable)",
    )
    parser.add_argument(
        "--fail-on",
        metavar="IDS",
        default="",
        help="comma-separated finding ids (see --list-findings) or 'all': exit 1 when one is found",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true", help="print only failures")
    verbosity.add_argument("--verbose", "-v", action="store_true", help="list every change")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="draw the progress bar even when standard error is not a terminal",
    )
    parser.add_argument(
        "--list-handlers", action="store_true", help="print every handler and its options as TOML"
    )
    parser.add_argument(
        "--list-findings", action="store_true", help="list the ids --fail-on accepts and exit"
    )
    parser.add_argument(
        "--show-profile", metavar="NAME", help="print a built-in profile's TOML and exit"
    )
    parser.add_argument("--version", action="version", version=f"rootnorm {__version__}")
    return parser


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)  # a TOML basic string: the same escapes


def _list_handlers() -> None:
    """Every handler as a [[handler]] table with its options at their defaults: valid TOML,
    in a valid order, to paste into a profile."""
    print("# Every handler with its options at their defaults (mtime must stay last).")
    for name in handlers.REGISTRY:
        cls = handlers.load(name)
        print(f"\n# {name}: {cls.summary}\n[[handler]]\nname = {_toml(name)}")
        for option in cls.options:
            choices = f" ({' | '.join(option.choices)})" if option.choices else ""
            print(f"{option.name} = {_toml(option.default)}  # {option.help}{choices}")


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_handlers:
        _list_handlers()
        return 0
    if args.list_findings:
        print("\n".join(findings.listing()))
        return 0
    if args.show_profile:
        if args.show_profile not in profiles.BUILTIN:
            raise UsageError(f"no built-in profile {args.show_profile!r}")
        sys.stdout.write(profiles.builtin_text(args.show_profile))
        return 0
    if args.root is None:
        raise UsageError("ROOT is required (the tree to process)")
    if args.root == "":
        raise UsageError("ROOT is an empty string (an unset variable?); nothing was changed")
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 (one per CPU) or a positive number")
    jobs = args.jobs or len(os.sched_getaffinity(0))
    fail_on = preflight.fail_on(args.fail_on)
    profile = profiles.load(args.profile)
    if args.mtime_policy:
        profile = profile._replace(policy=Policy(args.mtime_policy), explicit_policy=True)
    if args.cross_mounts:
        profile = profile._replace(cross_mounts=True)
    # given, it is used even when the policy does not need it (shadow dates are clamped to it)
    epoch = preflight.epoch(args.source_date_epoch, True)
    if profile.needs_epoch and epoch is None:
        raise UsageError(
            f"profile {profile.name} uses the {profile.policy.value} mtime policy, which needs "
            "SOURCE_DATE_EPOCH: set it in the environment or pass --source-date-epoch N "
            "(for example the time of the last commit: git log -1 --format=%ct), "
            "or use --profile ostree, which sets every mtime to 0"
        )
    preflight.profile_warnings(profile)
    if args.report not in (None, "-"):
        preflight.report_path(args.report, args.root, profile)
    run_ = pipeline.prepare(profile, epoch, args.check, jobs, tuple(args.build_path_prefix))
    if not args.check:
        preflight.writable(args.root, profile)
    policy = run_.settings.clock.describe() if run_.mtime else "not applied (no mtime handler)"
    report = Report(
        profile.name,
        policy,
        args.check,
        [s.name for s in profile.steps],
        # only with the zero policy: OpenEmbedded overrides it (--mtime-policy set) for images
        # that do not become an ostree commit, whose symlinks keep their mtimes
        checkout_time=profile.checkout_time
        and profile.policy is Policy.ZERO
        and run_.mtime is not None,
    )
    progress = Progress(not args.quiet and (sys.stderr.isatty() or args.progress))
    stopping.install()
    pipeline.execute(run_, args.root, report, progress)
    summary_out = sys.stdout
    if args.report == "-":
        summary_out = sys.stderr  # standard output holds the JSON alone
        _write(sys.stdout, report.write_json)
    elif args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as out:
                report.write_json(out)
        except OSError as exc:
            print(f"rootnorm: cannot write {args.report}: {exc.strerror}", file=sys.stderr)
            return EXIT_FAILED
    code = report.exit_code(fail_on)
    if args.quiet:
        _print_failures(report)
    else:
        lines = [f"rootnorm: ROOT {os.path.abspath(args.root)} (paths below are relative to it)"]
        lines += report.summary(args.verbose)
        lines += [f"  fail-on {r.finding_id}: {r.path}" for r in report.matched(fail_on)]
        _write(summary_out, lambda out: out.write("\n".join(lines) + "\n"))
    return code


def _print_failures(report: Report) -> None:
    failed = report.failed
    for record in failed[:EXAMPLES]:
        print(
            f"rootnorm: failed: {record.path} [{record.handler}] {record.detail}", file=sys.stderr
        )
    if len(failed) > EXAMPLES:
        print(f"rootnorm: ... and {len(failed) - EXAMPLES} more failures", file=sys.stderr)


def _write(out: TextIO, write: Callable[[TextIO], object]) -> None:
    try:
        write(out)
        out.flush()
    except BrokenPipeError:  # `rootnorm ... | head`: the run is done, its code stands
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        return run(argv)
    except UsageError as exc:
        print(f"rootnorm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except stopping.Stopped as stop:
        print(
            f"rootnorm: stopped by {stop}; every file is either fully old or fully new; "
            "run rootnorm again to finish (a journal in the tree keeps what it needs)",
            file=sys.stderr,
        )
        return 128 + stop.signum
    except KeyboardInterrupt:  # before the run started (the signals are not noted yet)
        print("rootnorm: interrupted; nothing was changed", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: never a traceback
        print(f"rootnorm: internal error: {exc!r}; please report this", file=sys.stderr)
        if os.environ.get("ROOTNORM_DEBUG"):
            raise
        return EXIT_INTERNAL
