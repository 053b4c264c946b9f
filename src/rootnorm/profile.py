"""Profiles: the ordered handler pipeline, excludes and mtime policy, read from TOML.

The whole profile is validated before anything runs; every problem is reported at once with
the file, the key and, where it can be found, the line.
"""

from __future__ import annotations

import os
import re
import sys
from typing import NamedTuple

from rootnorm import handlers
from rootnorm.clock import MAX_SECONDS, Policy
from rootnorm.errors import ProfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

BUILTIN = ("ostree", "rpm", "generic", "audit")
ALWAYS_EXCLUDED = ("sysroot/ostree/repo",)  # objects shared with every deployment
MTIME_KEYS = {"policy", "value", "ostree_checkout"}
TOP_KEYS = {"description", "exclude", "cross_mounts", "mtime", "handler"}


class Step(NamedTuple):
    name: str
    options: dict[str, object]


class Profile(NamedTuple):
    name: str
    description: str
    policy: Policy
    value: int | None  # fixed value for the set policy (else SOURCE_DATE_EPOCH)
    exclude: tuple[str, ...]
    cross_mounts: bool
    steps: tuple[Step, ...]
    explicit_policy: bool = False  # [mtime] policy given (or --mtime-policy)
    # The tree becomes an ostree commit: a checkout gives symlinks and empty files the
    # checkout time, so a difference in their mtime alone is no difference (--check).
    checkout_time: bool = False

    @property
    def needs_epoch(self) -> bool:
        """SOURCE_DATE_EPOCH is needed: the policy takes it and a step applies the policy."""
        takes_epoch = self.policy is Policy.CLAMP or (
            self.policy is Policy.SET and self.value is None
        )
        return takes_epoch and any(handlers.load(step.name).uses_clock for step in self.steps)


PROFILES_DIR = os.path.join(os.path.dirname(__file__), "profiles")  # package data


def builtin_text(name: str) -> str:
    # A plain path, not importlib.resources: that import alone costs a third of start-up.
    with open(os.path.join(PROFILES_DIR, f"{name}.toml"), encoding="utf-8") as profile:
        return profile.read()


def load(name_or_path: str) -> Profile:
    """A built-in profile by name, or a TOML file by path."""
    if name_or_path in BUILTIN:
        return parse(builtin_text(name_or_path), name_or_path, f"built-in profile {name_or_path}")
    if os.path.lexists(name_or_path):
        if not os.path.isfile(name_or_path):
            raise ProfileError(f"profile {name_or_path} is not a file (a TOML profile is)")
    elif os.sep in name_or_path or name_or_path.endswith(".toml"):
        raise ProfileError(f"profile file {name_or_path} does not exist")
    else:
        raise ProfileError(
            f"unknown profile {name_or_path!r}: give a built-in one "
            f"({', '.join(BUILTIN)}) or the path of a TOML file"
        )
    try:
        with open(name_or_path, encoding="utf-8") as profile:
            text = profile.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{name_or_path}: cannot read: {exc}") from None
    stem = os.path.splitext(os.path.basename(name_or_path))[0]
    return parse(text, stem, name_or_path)


def parse(text: str, name: str, origin: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: not valid TOML: {exc}") from None
    checker = _Checker(text, origin)
    profile = checker.profile(data, name)
    if checker.problems:
        raise ProfileError("\n".join(checker.problems))
    return profile


class _Checker:
    def __init__(self, text: str, origin: str) -> None:
        self.lines = text.splitlines()
        self.origin = origin
        self.problems: list[str] = []

    def fail(self, key: str, message: str, step: int | None = None) -> None:
        line = self._line_of(key.rpartition(".")[2], step)
        where = f"{self.origin}:{line}" if line else self.origin
        self.problems.append(f"{where}: {key}: {message}")

    def _line_of(self, key: str, step: int | None) -> int | None:
        """Best-effort line of `key` (inside the step-th [[handler]] table when given)."""
        start, seen = 0, -1
        if step is not None:
            for number, line in enumerate(self.lines):
                if re.match(r"\s*\[\[\s*handler\s*\]\]", line):
                    seen += 1
                    if seen == step:
                        start = number
                        break
            else:
                return None
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for number in range(start, len(self.lines)):
            if pattern.match(self.lines[number]):
                return number + 1
            if step is not None and number > start and self.lines[number].lstrip().startswith("["):
                break
        return start + 1 if step is not None else None

    def profile(self, data: dict[str, object], name: str) -> Profile:
        for key in sorted(set(data) - TOP_KEYS):
            self.fail(key, f"unknown key (expected one of {', '.join(sorted(TOP_KEYS))})")
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail("description", "must be a string")
            description = ""
        exclude = data.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
            self.fail("exclude", "must be a list of root-relative glob patterns (strings)")
            exclude = []
        cross_mounts = data.get("cross_mounts", False)
        if not isinstance(cross_mounts, bool):
            self.fail("cross_mounts", "must be true or false")
            cross_mounts = False
        policy, value, checkout_time = self._mtime(data.get("mtime", {}))
        steps = self._steps(data.get("handler", []))
        return Profile(
            name=name,
            description=description,
            policy=policy,
            value=value,
            exclude=tuple(p.strip("/") for p in exclude) + ALWAYS_EXCLUDED,
            cross_mounts=cross_mounts,
            steps=steps,
            explicit_policy="policy" in _table(data.get("mtime")),
            checkout_time=checkout_time,
        )

    def _mtime(self, table: object) -> tuple[Policy, int | None, bool]:
        if not isinstance(table, dict):
            self.fail("mtime", "must be a table: [mtime] with policy = ...")
            return Policy.CLAMP, None, False
        for key in sorted(set(table) - MTIME_KEYS):
            self.fail(f"mtime.{key}", f"unknown key (expected {', '.join(sorted(MTIME_KEYS))})")
        checkout_time = table.get("ostree_checkout", False)
        if not isinstance(checkout_time, bool):
            self.fail("mtime.ostree_checkout", "must be true or false")
            checkout_time = False
        raw = table.get("policy", "clamp")
        try:
            policy = Policy(raw)
        except ValueError:
            choices = ", ".join(p.value for p in Policy)
            self.fail("mtime.policy", f"{raw!r} is not a policy (expected {choices})")
            policy = Policy.CLAMP
        value = table.get("value")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.fail("mtime.value", "must be a non-negative integer (seconds since 1970)")
                value = None
            elif value > MAX_SECONDS:
                self.fail(
                    "mtime.value",
                    f"{value} is more than pyc, gzip and ar headers hold ({MAX_SECONDS})",
                )
                value = None
            elif policy is not Policy.SET:
                self.fail("mtime.value", "only the set policy takes a value")
        if checkout_time and policy is not Policy.ZERO:
            self.fail("mtime.ostree_checkout", "only the zero policy is what a checkout gives")
        return policy, value, checkout_time

    def _steps(self, raw: object) -> tuple[Step, ...]:
        if not isinstance(raw, list):
            self.fail("handler", "must be an array of tables: [[handler]] with name = ...")
            return ()
        steps: list[Step] = []
        for position, table in enumerate(raw):
            key = f"handler[{position}]"
            if not isinstance(table, dict):
                self.fail(key, "must be a table", position)
                continue
            name = table.get("name")
            if name not in handlers.REGISTRY:
                known = ", ".join(sorted(handlers.REGISTRY))
                self.fail(f"{key}.name", f"unknown handler {name!r} (known: {known})", position)
                continue
            if any(step.name == name for step in steps):
                self.fail(f"{key}.name", f"handler {name!r} appears twice", position)
                continue
            cls = handlers.load(name)
            known_options = {option.name: option for option in cls.options}
            options: dict[str, object] = {}
            for option_name, value in table.items():
                if option_name == "name":
                    continue
                option = known_options.get(option_name)
                where = f"{key}.{option_name}"
                if option is None:
                    expected = ", ".join(sorted(known_options)) or "none"
                    self.fail(where, f"{name} has no such option (options: {expected})", position)
                    continue
                problem = _check_option(option.default, option.choices, value)
                if problem:
                    self.fail(where, problem, position)
                    continue
                options[option_name] = tuple(value) if isinstance(value, list) else value
            steps.append(Step(name, options))
        for position, step in enumerate(steps[:-1]):
            if handlers.load(step.name).whole_tree:
                self.fail(
                    f"handler[{position}].name",
                    f"{step.name!r} must be the last handler: it runs after all content changes",
                    position,
                )
        return tuple(steps)


def _table(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _check_option(default: object, choices: tuple[str, ...], value: object) -> str:
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return "" if ok else "must be an integer"
    if isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return "" if ok else "must be a list of strings"
    if not isinstance(value, str):
        return "must be a string"
    if choices and value not in choices:
        return f"{value!r} is not one of {', '.join(choices)}"
    return ""
