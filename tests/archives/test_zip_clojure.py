"""Clojure jars: the sources get one DOS step (2 s) less than the AOT classes, so Clojure loads
the compiled namespace instead of recompiling its source at every start."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from archive_helpers import BUILD_TIMES, clamp, inspect, needs, normalise, run, zero

from rootnorm.decisions import Rewrite
from rootnorm.handlers.base import Settings

CLOJURE_JAR = Path("/usr/share/java/clojure.jar")
WHEN = (2024, 3, 1, 10, 0, 0)


def _times(path: Path) -> dict[str, tuple[int, ...]]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.date_time for info in archive.infolist()}


@pytest.mark.parametrize(
    ("settings", "classes", "sources"),
    [
        (clamp(), (2023, 11, 14, 22, 13, 20), (2023, 11, 14, 22, 13, 18)),
        (zero(), (1980, 1, 1, 0, 0, 2), (1980, 1, 1, 0, 0, 0)),  # no room before 1980
    ],
    ids=["clamp", "ostree"],
)
def test_sources_one_step_older_than_classes(
    tmp_path: Path, settings: Settings, classes: tuple[int, ...], sources: tuple[int, ...]
) -> None:
    path = tmp_path / "lib.jar"
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name in ("a/core.clj", "a/core__init.class", "b/util.cljc", "data.edn"):
            archive.writestr(zipfile.ZipInfo(name, WHEN), name)
    path.write_bytes(sink.getvalue())
    assert isinstance(normalise("zip", path, settings), Rewrite)
    assert inspect("zip", path, settings) is None
    times = _times(path)
    assert times["a/core__init.class"] == classes
    assert times["a/core.clj"] == times["b/util.cljc"] == sources
    assert times["data.edn"] == (classes if settings.clock.policy.value == "clamp" else sources)


def test_no_classes_no_change_of_sources(tmp_path: Path) -> None:
    path = tmp_path / "src.jar"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("a/core.clj", WHEN), "(ns a.core)")
    normalise("zip", path, clamp())
    assert _times(path)["a/core.clj"] == (2023, 11, 14, 22, 13, 20)


def _greeting(jar: Path) -> tuple[str, bool]:
    """What the namespace says, and whether its AOT class was loaded from the jar."""
    out = run(
        [
            "java",
            "-verbose:class",
            "-cp",
            f"{CLOJURE_JAR}:{jar}",
            "clojure.main",
            "-e",
            "(require 'hello.core) (println (hello.core/greet))",
        ]
    )
    lines = out.splitlines()
    loaded = any("hello.core__init source: file:" in line for line in lines)
    said = [line for line in lines if not line.startswith("[")]  # not a class-load line
    return said[-1], loaded


@pytest.mark.slow
def test_real_clojure_loads_the_aot_class(tmp_path: Path) -> None:
    needs("java", "jar", "faketime")
    if not CLOJURE_JAR.is_file():
        pytest.skip("needs Debian's clojure")
    src = tmp_path / "src"
    (src / "hello").mkdir(parents=True)
    (src / "hello" / "core.clj").write_text('(ns hello.core)\n(defn greet [] "aot")\n')
    classes = tmp_path / "classes"
    classes.mkdir()
    run(
        [
            "java",
            "-cp",
            f"{CLOJURE_JAR}:{src}:{classes}",
            f"-Dclojure.compile.path={classes}",
            "clojure.main",
            "-e",
            "(compile 'hello.core)",
        ]
    )
    # The source the jar ships says something else, to tell which one ran.
    (src / "hello" / "core.clj").write_text('(ns hello.core)\n(defn greet [] "source")\n')
    jars = []
    for k, build in enumerate(BUILD_TIMES):
        stamp = int(run(["date", "-d", build, "+%s"]))
        for path in [*src.rglob("*"), *classes.rglob("*")]:
            os.utime(path, (stamp, stamp))  # one time for all, as a reproducible build gives
        jar = tmp_path / f"hello{k}.jar"
        run(
            ["jar", "cf", str(jar), "-C", str(src), "hello", "-C", str(classes), "hello"],
            faketime=build,
        )
        jars.append(jar)
    assert _greeting(jars[0]) == ("source", False)  # same times: Clojure recompiles
    for jar in jars:
        assert isinstance(normalise("zip", jar, clamp()), Rewrite)
    assert jars[0].read_bytes() == jars[1].read_bytes()
    assert _greeting(jars[0]) == ("aot", True)
