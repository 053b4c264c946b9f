"""Fuzz one parser with atheris (libFuzzer): python3 fuzz/run.py --target NAME [--runs N].

Each input is bounded: libFuzzer's -timeout (seconds per input) and -rss_limit_mb, and an
address-space limit on the whole process, so an input that makes a parser allocate without
bound fails (MemoryError, or libFuzzer's out-of-memory report) instead of taking the machine
down. Exit status 0: no crash, no timeout, no out-of-memory. Other libFuzzer flags after `--`.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

ADDRESS_SPACE = 3 << 30  # the interpreter, atheris' counters, and a bounded parser
RSS_LIMIT_MB = 1024
TIMEOUT_S = 10
INSTRUMENTED = ["rootnorm", "elftools"]  # packages whose code feeds coverage back


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--runs", type=int, default=-1, help="inputs to run (-1: until stopped)")
    parser.add_argument(
        "--corpus", type=Path, help="corpus directory to keep (default: a temp one)"
    )
    parser.add_argument("--artifacts", type=Path, default=Path.cwd(), help="where crashes go")
    parser.add_argument("--replay", type=Path, nargs="+", help="run these inputs, no fuzzing")
    parser.add_argument("libfuzzer", nargs="*", help="more libFuzzer flags, after --")
    args = parser.parse_args()
    if args.replay:
        import targets

        harness = targets.Harness(args.target)
        for path in args.replay:
            harness.one(path.read_bytes())  # a crash shows its traceback
            print(f"{path}: no crash")
        return 0

    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        import targets

        target = targets.TARGETS[args.target]
        for module in target.modules:
            importlib.import_module(module)

    harness = targets.Harness(args.target)
    corpus = args.corpus or Path(tempfile.mkdtemp(prefix=f"rootnorm-fuzz-{args.target}-corpus-"))
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(harness.seeds()):
        (corpus / f"seed-{number}").write_bytes(seed)
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    atheris.Setup(
        [
            sys.argv[0],
            str(corpus),
            f"-runs={args.runs}",
            f"-timeout={TIMEOUT_S}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-artifact_prefix={args.artifacts}/{args.target}-",
            "-print_final_stats=1",
            *args.libfuzzer,
        ],
        harness.one,
    )
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
