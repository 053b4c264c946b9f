"""The mo, png and javadoc planners on mutated real inputs: every outcome is a plan, None or
Unsupported (never another exception), and a plan's output is settled (a second plan changes
nothing). A fixed seed, so a failure replays; the fuzz harness runs the same entry points."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from types import ModuleType

import pytest
from test_javadoc import OLD_HEAD
from test_mo import GOOD as MO
from test_png import GOOD as PNG

from rootnorm.archives.plan import Unsupported
from rootnorm.clock import Clock, Policy
from rootnorm.formats import javadocfmt, mofmt, pngfmt

TARGETS: tuple[Callable[[int], int], ...] = (
    Clock(Policy.ZERO).final_seconds,
    Clock(Policy.CLAMP, 1_700_000_000).final_seconds,
    Clock(Policy.SET, 1_700_000_000).final_seconds,
)
SPECIAL = (b"\xff\xff\xff\xff", b"\0\0\0\0", b"\x7f\xff\xff\xff", b"\0\0\1\0")


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(out) + 1)
        op = rng.random()
        if op < 0.5 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif op < 0.7:
            del out[at : at + rng.randint(1, 64)]
        elif op < 0.85:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            out[at : at + 4] = rng.choice(SPECIAL)
    return bytes(out)


@pytest.mark.parametrize(
    ("module", "seed"),
    [(mofmt, MO), (pngfmt, PNG), (javadocfmt, OLD_HEAD)],
    ids=["mo", "png", "javadoc"],
)
def test_mutated_inputs_give_a_plan_none_or_unsupported(module: ModuleType, seed: bytes) -> None:
    rng = random.Random(16)
    for _ in range(1500):
        data = _mutate(rng, seed)
        for target in TARGETS:
            try:
                plan = module.plan(io.BytesIO(data), len(data), target)
            except Unsupported:
                continue
            if plan is None:
                continue
            out = io.BytesIO()
            plan.write(io.BytesIO(data), out)
            new = out.getvalue()
            again = module.plan(io.BytesIO(new), len(new), target)
            assert again is None or again.same_as(io.BytesIO(new), len(new)), data
