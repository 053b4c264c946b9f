"""The conda handler: repodata caches made by a real client (py-rattler, fetched from a local
HTTP channel) and in conda's own layout, checked afterwards with conda's validity rule as
conda/gateways/repodata/__init__.py states it (RepodataCache.load: the state's mtime_ns and
size must equal the cached json's st_mtime_ns and st_size), and read again by py-rattler."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from testlib import NS, rootnorm, unavailable

from rootnorm.formats import condastate

EPOCH = 1_700_000_000
BUILD_NS = 1_750_000_000 * NS + 123_456_789
FETCH = """
import asyncio, os, sys
from rattler import Channel, Platform, fetch_repo_data
from rattler.networking.fetch_repo_data import FetchRepoDataOptions
async def main():
    options = FetchRepoDataOptions(cache_action=sys.argv[3])
    found = await fetch_repo_data(channels=[Channel(sys.argv[1])], platforms=[Platform("linux-64")],
                                  cache_path=sys.argv[2], callback=None, fetch_options=options)
    print(len(found), flush=True)
try:
    asyncio.run(main())
except Exception as exc:
    print(exc, file=sys.stderr, flush=True)
    os._exit(1)
os._exit(0)  # py-rattler 0.28 aborts in interpreter shutdown
"""


def conda_keeps(state_path: Path) -> bool:
    """conda's rule: the cache's validators survive only if mtime_ns and size match."""
    state = json.loads(state_path.read_text())
    cache = state_path.parent / (state_path.name.split(".")[0] + ".json")
    st = cache.stat()
    return state.get("mtime_ns") == st.st_mtime_ns and state.get("size") == st.st_size


class _Quiet(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "public, max-age=3000000000")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[str]:
    """A local conda channel served over HTTP."""
    for subdir in ("linux-64", "noarch"):
        (tmp_path / "channel" / subdir).mkdir(parents=True)
        (tmp_path / "channel" / subdir / "repodata.json").write_text(
            json.dumps({"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}})
        )
    handler = functools.partial(_Quiet, directory=str(tmp_path / "channel"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _rattler(url: str, cache: Path, action: str) -> subprocess.CompletedProcess[str]:
    try:
        import rattler  # noqa: F401
    except ImportError:
        unavailable("needs py-rattler (pip install py-rattler)")
    return subprocess.run(
        [sys.executable, "-c", FETCH, url, str(cache), action],
        capture_output=True,
        text=True,
        check=False,
    )


def _conda_cache(cache: Path) -> Path:
    """A cache in conda's layout: legacy headers inside the json, the state written the way
    RepodataCache.replace writes it (json.dumps, indent=2)."""
    cache.mkdir(parents=True, exist_ok=True)
    data = cache / "09cdf8bf.json"
    data.write_text('{"_url": "https://conda.anaconda.org/x/linux-64", "_etag": "W/\\"1\\"", '
                    '"_mod": "Mon, 01 Jan 2024 00:00:00 GMT", "packages": {}}')  # fmt: skip
    os.utime(data, ns=(BUILD_NS, BUILD_NS))
    state = {"url": "https://conda.anaconda.org/x/linux-64/repodata.json", "etag": 'W/"1"',
             "mod": "Mon, 01 Jan 2024 00:00:00 GMT", "cache_control": "public, max-age=1200",
             "mtime_ns": BUILD_NS, "size": data.stat().st_size, "refresh_ns": BUILD_NS,
             "has_zst": {"value": False, "last_checked": "2025-06-15T15:06:40Z"}}  # fmt: skip
    (cache / "09cdf8bf.info.json").write_text(json.dumps(state, indent=2))
    return cache / "09cdf8bf.info.json"


def test_conda_layout_kept_valid(tmp_path: Path) -> None:
    root = tmp_path / "root"
    state = _conda_cache(root / "opt/conda/pkgs/cache")
    cache_json = (root / "opt/conda/pkgs/cache/09cdf8bf.json").read_bytes()
    before = state.read_bytes()
    assert conda_keeps(state)
    proc = rootnorm("--profile", "generic", "--source-date-epoch", str(EPOCH), str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert conda_keeps(state)
    after = state.read_bytes()
    assert after == before.replace(b"%d," % BUILD_NS, b"%d," % (EPOCH * NS), 1)
    assert (root / "opt/conda/pkgs/cache/09cdf8bf.json").read_bytes() == cache_json
    again = rootnorm(
        "--check", "--profile", "generic", "--source-date-epoch", str(EPOCH), str(root)
    )
    assert again.returncode == 0, again.stdout


def test_stale_state_left_and_reported(tmp_path: Path) -> None:
    state = _conda_cache(tmp_path / "cache")
    os.utime(tmp_path / "cache/09cdf8bf.json", ns=(BUILD_NS + NS, BUILD_NS + NS))
    before = state.read_bytes()
    proc = rootnorm("--profile", "ostree", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert state.read_bytes() == before
    assert "conda already discards it" in proc.stdout


@pytest.mark.slow  # py-rattler needs Python 3.10+: not in the quick run on 3.9
def test_rattler_cache_still_used(tmp_path: Path, channel: str) -> None:
    root = tmp_path / "root"
    cache = root / "usr/share/rattler-cache"
    fetched = _rattler(channel, cache, "cache-or-fetch")
    assert fetched.returncode == 0, fetched.stderr
    states = sorted(cache.glob("*.info.json"))
    assert states and all(conda_keeps(state) for state in states)
    proc = rootnorm("--profile", "ostree", str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(conda_keeps(state) for state in states)
    assert all(json.loads(s.read_text())["mtime_ns"] == 0 for s in states)
    reused = _rattler(channel, cache, "use-cache-only")
    assert reused.returncode == 0, reused.stderr


@pytest.mark.parametrize(
    "data",
    [
        b'{"mtime_ns": 1, "size": 2, "jlap": {"mtime_ns": 1}}',
        b'{"mtime\\u005fns": 1, "size": 2}',
        b'{"mtime_ns": 1.5, "size": 2}',
        b'{"mtime_ns": 1, "size": 2, "mtime": "x"}',
        b"[" * 100000,
        b"\xff",
    ],
)
def test_parser_refuses(data: bytes) -> None:
    with pytest.raises(condastate.NotAState):
        condastate.parse(data)


def test_parser_rewrites_both_keys() -> None:
    data = b'{"mtime": 1750000000.5, "size": 2, "mtime_ns": 1750000000500000000}'
    state = condastate.parse(data)
    assert (
        condastate.with_mtime(data, state, 3 * NS)
        == b'{"mtime": 3.0, "size": 2, "mtime_ns": 3000000000}'
    )
