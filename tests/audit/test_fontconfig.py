"""The fontconfig fixer against the real fc-cache and fc-list (FONTCONFIG_FILE into the tree)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from audit_helpers import EPOCH, inspect, make
from testlib import NS, rootnorm, unavailable

from rootnorm.audit import fontcache
from rootnorm.clock import Policy
from rootnorm.decisions import Leave, Outcome, Patch
from rootnorm.handlers.fontconfig import FontconfigHandler
from rootnorm.inventory import walk

FONTS = Path("/usr/share/fonts/truetype/dejavu")
CACHE = "var/cache/fontconfig"
DIRS = ("usr/share/fonts", "usr/share/fonts/sans", "usr/share/fonts/serif")
BUILD_TIME = 1_700_000_000 * NS + 123_456_789  # newer than EPOCH: clamp and set both move it


def _env(root: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "FONTCONFIG_FILE": str(root / "etc/fonts/fonts.conf"), **extra}


@pytest.fixture
def fonts(tmp_path: Path) -> Path:
    """A tree with two font directories and their caches, built by the real fc-cache."""
    if shutil.which("fc-cache") is None or not (FONTS / "DejaVuSans.ttf").is_file():
        unavailable("needs fc-cache and fonts-dejavu-core")
    root = tmp_path / "root"
    for rel in DIRS[1:]:
        (root / rel).mkdir(parents=True)
    shutil.copyfile(FONTS / "DejaVuSans.ttf", root / DIRS[1] / "DejaVuSans.ttf")
    shutil.copyfile(FONTS / "DejaVuSerif.ttf", root / DIRS[2] / "DejaVuSerif.ttf")
    (root / CACHE).mkdir(parents=True)
    (root / "etc/fonts").mkdir(parents=True)
    (root / "etc/fonts/fonts.conf").write_text(
        f"<?xml version='1.0'?>\n<fontconfig><dir>{root / DIRS[0]}</dir>"
        f"<cachedir>{root / CACHE}</cachedir></fontconfig>\n"
    )
    for rel in reversed(DIRS):
        os.utime(root / rel, ns=(BUILD_TIME, BUILD_TIME))
    subprocess.run(["fc-cache"], env=_env(root), check=True)
    assert len(_caches(root)) == len(DIRS)
    return root


def _caches(root: Path) -> dict[str, int]:
    """Cache file name -> inode."""
    return {p.name: p.stat().st_ino for p in (root / CACHE).iterdir() if ".cache-" in p.name}


def _apply_policy(root: Path, final_ns: int) -> None:
    """What the mtime handler does to the font directories (simulated for the direct tests)."""
    for rel in DIRS:
        os.utime(root / rel, ns=(final_ns, final_ns))


def _fix(root: Path, policy: Policy) -> list[Patch]:
    handler = make(FontconfigHandler, policy=policy)
    inventory = walk(str(root))
    patches = []
    for name in _caches(root):
        decision = inspect(handler, root, f"{CACHE}/{name}", inventory)
        assert isinstance(decision, Patch), decision
        fd = os.open(root / CACHE / name, os.O_WRONLY)
        try:
            os.pwrite(fd, decision.data, decision.offset)
        finally:
            os.close(fd)
        patches.append(decision)
    return patches


def _checksums(root: Path) -> list[tuple[str, str]]:
    """(cache checksum, dir checksum) for each directory, as FC_DEBUG=16 fc-list prints them."""
    out = subprocess.run(
        ["fc-list"], env=_env(root, FC_DEBUG="16"), capture_output=True, text=True, check=True
    ).stdout
    pairs = re.findall(r"cache checksum (\S+) dir checksum (\S+)", out)
    assert pairs, out
    return pairs


@pytest.mark.parametrize("policy", [Policy.CLAMP, Policy.SET, Policy.ZERO])
def test_fixed_caches_stay_valid(fonts: Path, policy: Policy) -> None:
    before = _caches(fonts)
    patches = _fix(fonts, policy)
    final = 0 if policy is Policy.ZERO else EPOCH * NS
    _apply_policy(fonts, final)
    assert all(p.offset == 48 and len(p.data) == 16 for p in patches)
    pairs = _checksums(fonts)
    assert all(cache == directory for cache, directory in pairs), pairs
    assert {directory for _, directory in pairs} == {f"{final // NS}.0"}
    subprocess.run(["fc-cache"], env=_env(fonts), check=True)  # not forced
    assert _caches(fonts) == before  # same names, same inodes: nothing rewritten


def test_without_the_fixer_fc_cache_rewrites(fonts: Path) -> None:
    before = _caches(fonts)
    _apply_policy(fonts, EPOCH * NS)
    assert all(cache != directory for cache, directory in _checksums(fonts))
    subprocess.run(["fc-cache"], env=_env(fonts), check=True)
    after = _caches(fonts)
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)


def test_stale_cache_is_left_and_reported(fonts: Path) -> None:
    shutil.copyfile(FONTS / "DejaVuSans-Bold.ttf", fonts / DIRS[1] / "DejaVuSans-Bold.ttf")
    inventory = walk(str(fonts))
    decisions = {
        name: inspect(make(FontconfigHandler), fonts, f"{CACHE}/{name}", inventory)
        for name in _caches(fonts)
    }
    stale = [d for d in decisions.values() if isinstance(d, Leave)]
    assert len(stale) == 1 and stale[0].outcome is Outcome.STALE
    assert f"cache of {fonts / DIRS[1]} records mtime 1700000000.123456789" in stale[0].why
    assert sum(isinstance(d, Patch) for d in decisions.values()) == len(DIRS) - 1


def test_cache_written_under_source_date_epoch_counts_as_current(fonts: Path) -> None:
    # fc-cache with SOURCE_DATE_EPOCH records min(mtime, epoch) and no nanoseconds
    subprocess.run(["fc-cache", "-f"], env=_env(fonts, SOURCE_DATE_EPOCH=str(EPOCH)), check=True)
    inventory = walk(str(fonts))
    for name in _caches(fonts):
        decision = inspect(make(FontconfigHandler), fonts, f"{CACHE}/{name}", inventory)
        assert decision is None  # it already records EPOCH.0, the clamped mtime
    zero = make(FontconfigHandler, policy=Policy.ZERO)
    decisions = [inspect(zero, fonts, f"{CACHE}/{n}", inventory) for n in _caches(fonts)]
    assert all(isinstance(d, Patch) for d in decisions)


def test_not_a_cache_this_module_knows(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    good = "0123456789abcdef0123456789abcdef-le64.cache-8"
    files = {
        good: b"\0" * 64,  # no magic
        "0123456789abcdef0123456789abcdef-le32d4.cache-8": b"\x04\xfc\x02\xfc" + b"\0" * 60,
    }
    for name, data in files.items():
        (tmp_path / "c" / name).write_bytes(data)
    for name in files:
        decision = inspect(make(FontconfigHandler), tmp_path, f"c/{name}")
        assert isinstance(decision, Leave) and decision.outcome is Outcome.UNSUPPORTED, decision
    assert fontcache.is_cache_name(good.encode())
    assert not fontcache.is_cache_name(b"CACHEDIR.TAG")


def test_stamp_matches_fontconfig_int_conversion() -> None:
    assert fontcache.stamp(0) == (0, 0)
    assert fontcache.stamp(EPOCH * NS + 5) == (EPOCH, 5)
    assert fontcache.stamp(2**31 * NS) == (-(2**31), 0)  # (int) of a post-2038 time_t


@pytest.mark.parametrize(
    ("profile", "extra"),
    [("rpm", []), ("generic", ["--mtime-policy", "set"]), ("ostree", [])],
)
def test_cli_profiles_keep_caches_valid(fonts: Path, profile: str, extra: list[str]) -> None:
    before = _caches(fonts)
    proc = rootnorm("--profile", profile, *extra, "--source-date-epoch", str(EPOCH), str(fonts))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if profile == "ostree":  # /var is excluded there: the caches are not shipped anyway
        assert "fontconfig" not in proc.stdout
        return
    assert f"fontconfig: {len(DIRS)} changed" in proc.stdout, proc.stdout
    again = rootnorm("--check", "--profile", profile, *extra, "--source-date-epoch", str(EPOCH),
                     str(fonts))  # fmt: skip
    assert again.returncode == 0, again.stdout  # a second run changes nothing
    assert all(cache == directory for cache, directory in _checksums(fonts))
    subprocess.run(["fc-cache"], env=_env(fonts), check=True)
    assert _caches(fonts) == before


def test_cli_ostree_with_caches_under_usr(fonts: Path) -> None:
    """Fedora keeps system caches in /usr/lib/fontconfig/cache, which the ostree profile sees."""
    cache = fonts / "usr/lib/fontconfig/cache"
    conf = fonts / "etc/fonts/fonts.conf"
    conf.write_text(conf.read_text().replace(str(fonts / CACHE), str(cache)))
    cache.mkdir(parents=True)
    subprocess.run(["fc-cache"], env=_env(fonts), check=True)
    proc = rootnorm("--profile", "ostree", str(fonts))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"fontconfig: {len(DIRS)} changed" in proc.stdout, proc.stdout
    assert {pair for pair in _checksums(fonts)} == {("0.0", "0.0")}


def test_cli_fail_on_stale(fonts: Path) -> None:
    shutil.copyfile(FONTS / "DejaVuSans-Bold.ttf", fonts / DIRS[1] / "DejaVuSans-Bold.ttf")
    args = ("--check", "--profile", "rpm", "--source-date-epoch", str(EPOCH))
    proc = rootnorm(*args, "--fail-on", "fontconfig-stale", str(fonts))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"fail-on fontconfig-stale: ./{CACHE}/" in proc.stdout


def test_cache_left_behind_by_an_excluding_run(fonts: Path, tmp_path: Path) -> None:
    """The ostree profile zeroes the font directories and excludes /var: the audit profile
    then names the caches it left behind."""
    caches = (fonts / CACHE).glob("*.cache-*")
    before = {p.name: p.read_bytes() for p in caches}
    proc = rootnorm("--profile", "ostree", str(fonts))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {p.name: p.read_bytes() for p in (fonts / CACHE).glob("*.cache-*")} == before
    report = tmp_path / "report.json"
    audit = rootnorm("--check", "--profile", "audit", "--report", str(report), str(fonts))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    found = {f["path"] for f in json.loads(report.read_text())["files"]
             if f.get("id") == "fontconfig-excluded"}  # fmt: skip
    assert found == {f"./{CACHE}/{name}" for name in before}
