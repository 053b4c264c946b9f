"""Command line: `rootnorm [options] ROOT` and `python -m rootnorm`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rootnorm import __version__, handlers, pipeline, stopping
from rootnorm import profile as profiles
from rootnorm.clock import Policy
from rootnorm.errors import UsageError
from rootnorm.progress import Progress
from rootnorm.report import EXIT_FAILED, EXIT_USAGE, Report

EXIT_INTERNAL = 4

EPILOG = """\
exit codes:
  0  done, or (with --check) the tree is already clean
  1  --check found something to change, or a --fail-on finding was found
  2  usage, profile or ROOT error: nothing was changed
  3  finished, but some files could not be processed (each is listed with the reason)
  4  internal error (a bug in rootnorm; please report it)

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
        help="SOURCE_DATE_EPOCH for the clamp and set policies (default: the environment's)",
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
    parser.add_argument("--report", metavar="FILE", help="write a JSON report to FILE")
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
        help="comma-separated finding ids (e.g. pyc-stale) or 'all': exit 1 when one is found",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true", help="print only failures")
    verbosity.add_argument(
        "--verbose", "-v", action="store_true", help="list every change; progress bar on pipes"
    )
    parser.add_argument("--list-handlers", action="store_true", help="list the handlers and exit")
    parser.add_argument(
        "--show-profile", metavar="NAME", help="print a built-in profile's TOML and exit"
    )
    parser.add_argument("--version", action="version", version=f"rootnorm {__version__}")
    return parser


def _epoch(flag: str | None) -> int | None:
    raw = flag if flag is not None else os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    source = "--source-date-epoch" if flag is not None else "SOURCE_DATE_EPOCH"
    if not raw.isdigit():
        raise UsageError(
            f"{source}={raw!r} is not a non-negative integer (seconds since 1970-01-01 UTC)"
        )
    return int(raw)


def _list_handlers() -> None:
    for name in handlers.REGISTRY:
        cls = handlers.load(name)
        print(f"{name:12} {cls.summary}")
        for option in cls.options:
            default = option.default
            shown = list(default) if isinstance(default, tuple) else default
            print(f"{'':14}{option.name} = {shown!r}: {option.help}")


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_handlers:
        _list_handlers()
        return 0
    if args.show_profile:
        if args.show_profile not in profiles.BUILTIN:
            raise UsageError(f"no built-in profile {args.show_profile!r}")
        sys.stdout.write(profiles.builtin_text(args.show_profile))
        return 0
    if args.root is None:
        raise UsageError("ROOT is required (the tree to process)")
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 (one per CPU) or a positive number")
    jobs = args.jobs or len(os.sched_getaffinity(0))
    profile = profiles.load(args.profile)
    if args.mtime_policy:
        profile = profile._replace(policy=Policy(args.mtime_policy))
    if args.cross_mounts:
        profile = profile._replace(cross_mounts=True)
    # given, it is used even when the policy does not need it (shadow dates are clamped to it)
    epoch = _epoch(args.source_date_epoch)
    if profile.needs_epoch and epoch is None:
        raise UsageError(
            f"profile {profile.name} uses the {profile.policy.value} mtime policy, which needs "
            "SOURCE_DATE_EPOCH: set it in the environment or pass --source-date-epoch N "
            "(for example the time of the last commit: git log -1 --format=%ct), "
            "or use --profile ostree, which sets every mtime to 0"
        )
    run_ = pipeline.prepare(profile, epoch, args.check, jobs, tuple(args.build_path_prefix))
    fail_on = frozenset(filter(None, (part.strip() for part in args.fail_on.split(","))))
    policy = run_.settings.clock.describe() if run_.mtime else "not applied (no mtime handler)"
    report = Report(profile.name, policy, args.check, [s.name for s in profile.steps])
    progress = Progress(not args.quiet and (sys.stderr.isatty() or args.verbose))
    stopping.install()
    pipeline.execute(run_, args.root, report, progress)
    if args.report:
        try:
            report.write_json(args.report)
        except OSError as exc:
            print(f"rootnorm: cannot write {args.report}: {exc.strerror}", file=sys.stderr)
            return EXIT_FAILED
    code = report.exit_code(fail_on)
    if args.quiet:
        for record in report.failed:
            print(
                f"rootnorm: failed: {record.path} [{record.handler}] {record.detail}",
                file=sys.stderr,
            )
    else:
        lines = report.summary(args.verbose)
        lines += [f"  fail-on {r.finding_id}: {r.path}" for r in report.matched(fail_on)]
        try:
            print("\n".join(lines), flush=True)
        except BrokenPipeError:  # `rootnorm ... | head`: the run is done, its code stands
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


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
