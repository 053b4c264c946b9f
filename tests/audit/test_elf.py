"""The ELF audit on programs compiled here with gcc: it finds exactly what each one carries."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from audit_helpers import ids, inspect, make
from testlib import unavailable

from rootnorm.decisions import Findings, Leave, Outcome
from rootnorm.handlers.elf import ElfHandler
from rootnorm.inventory import walk

PLAIN = "int main(void) { return 0; }\n"
DATED = "#include <stdio.h>\nint main(void) { puts(__DATE__); puts(__TIME__); return 0; }\n"
ASSERTS = "#include <assert.h>\nint main(int argc, char **argv) { assert(argc > 0); return 0; }\n"
LIBRARY = "int answer(void) { return 42; }\n"

# name in usr/bin (or usr/lib64) -> (source, gcc flags, expected finding ids)
CASES = {
    "plain": (PLAIN, ["-O2"], set()),
    "debug": (PLAIN, ["-g"], {"elf-build-path"}),
    "mapped-dot": (PLAIN, ["-g", "-ffile-prefix-map={src}=."], set()),
    "mapped-debug": (PLAIN, ["-g", "-ffile-prefix-map={src}=/usr/src/debug/t-1"], set()),
    "dated": (DATED, ["-O2"], {"elf-build-date"}),
    "dated-epoch": (DATED, ["-O2"], {"elf-build-date"}),
    "no-build-id": (PLAIN, ["-O2", "-Wl,--build-id=none"], {"elf-no-build-id"}),
    "assert-relative": (ASSERTS, ["-O2"], set()),
    "assert-absolute": (ASSERTS, ["-O2", "ABSOLUTE"], {"elf-build-path"}),
    "assert-mapped": (ASSERTS, ["-O2", "ABSOLUTE", "-ffile-prefix-map={src}=."], set()),
    "rpath-build": (PLAIN, ["-O2", "-Wl,-rpath,{src}/lib"], {"elf-rpath-build-path"}),
    "rpath-installed": (PLAIN, ["-O2", "-Wl,-rpath,/usr/lib64/t"], set()),
    "rpath-origin": (PLAIN, ["-O2", "-Wl,-rpath,$ORIGIN/../lib"], set()),
    "everything": (DATED, ["-g", "-Wl,--build-id=none", "-Wl,-rpath,/home/u/lib"],
                   {"elf-build-path", "elf-build-date", "elf-no-build-id", "elf-rpath-build-path"}),
}  # fmt: skip


def _gcc(src: Path, out: Path, source: str, flags: list[str], env: dict[str, str]) -> None:
    name = out.name + ".c"
    (src / name).write_text(source)
    args = [flag.format(src=src) for flag in flags if flag != "ABSOLUTE"]
    where = str(src / name) if "ABSOLUTE" in flags else name
    subprocess.run(["gcc", *args, "-o", str(out), where], cwd=src, check=True, env=env)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        unavailable("gcc is needed to build the test binaries")
    root = tmp_path_factory.mktemp("elf")
    src = tmp_path_factory.mktemp("build")  # under /tmp: a build root
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib64/t").mkdir(parents=True)
    env = {"PATH": os.environ["PATH"], "LANG": "C"}
    for name, (source, flags, _) in CASES.items():
        extra = {"SOURCE_DATE_EPOCH": "0"} if name == "dated-epoch" else {}
        _gcc(src, root / "usr/bin" / name, source, flags, {**env, **extra})
    (src / "lib.c").write_text(LIBRARY)
    subprocess.run(
        ["gcc", "-g", "-fPIC", "-shared", "-o", str(root / "usr/lib64/libt.so.1"), "lib.c"],
        cwd=src,
        check=True,
    )
    subprocess.run(["gcc", "-g", "-c", "-o", str(root / "usr/lib64/t/lib.o"), "lib.c"], cwd=src)
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_finds_exactly_what_the_binary_carries(tree: Path, name: str) -> None:
    assert ids(inspect(make(ElfHandler), tree, f"usr/bin/{name}")) == CASES[name][2]


def test_details_name_the_evidence(tree: Path) -> None:
    decision = inspect(make(ElfHandler), tree, "usr/bin/everything")
    assert isinstance(decision, Findings)
    details = {finding.id: finding.detail for finding in decision.items}
    assert details["elf-build-path"].startswith("DW_AT_comp_dir /tmp/")
    assert details["elf-rpath-build-path"] == "DT_RUNPATH /home/u/lib"
    today = time.strftime("%b %e %Y", time.localtime()).encode()
    assert today.decode() in details["elf-build-date"]
    epoch = inspect(make(ElfHandler), tree, "usr/bin/dated-epoch")
    assert isinstance(epoch, Findings)
    assert epoch.items[0].detail == ".rodata Jan  1 1970; .rodata 00:00:00"
    absolute = inspect(make(ElfHandler), tree, "usr/bin/assert-absolute")
    assert isinstance(absolute, Findings)
    assert absolute.items[0].detail.startswith(".rodata /tmp/")
    assert absolute.items[0].detail.endswith("/assert-absolute.c")


def test_shared_library_and_object(tree: Path) -> None:
    assert ids(inspect(make(ElfHandler), tree, "usr/lib64/libt.so.1")) == {"elf-build-path"}
    # a relocatable object has no build-id by nature; its DWARF is read after relocation
    assert ids(inspect(make(ElfHandler), tree, "usr/lib64/t/lib.o")) == {"elf-build-path"}


def test_user_build_roots(tmp_path: Path) -> None:
    """A __FILE__ outside the default build roots counts once the profile names its root."""
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "usr/bin").mkdir(parents=True)
    flags = ["-O2", "ABSOLUTE", "-fmacro-prefix-map={src}=/srv/ci/job"]
    _gcc(src, tmp_path / "usr/bin/ci", ASSERTS, flags, {"PATH": os.environ["PATH"]})
    assert ids(inspect(make(ElfHandler), tmp_path, "usr/bin/ci")) == set()
    handler = make(ElfHandler, {"build_path_prefixes": ("/srv/ci/",)})
    decision = inspect(handler, tmp_path, "usr/bin/ci")
    assert isinstance(decision, Findings)
    assert [(f.id, f.detail) for f in decision.items] == [
        ("elf-build-path", ".rodata /srv/ci/job/ci.c")
    ]


def test_unparsable_elf_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/broken").write_bytes(b"\x7fELF\x02\x01\x01" + b"\xff" * 200)
    truncated = Path("/bin/true").read_bytes()[:2000]
    (tmp_path / "usr/bin/truncated").write_bytes(truncated)
    for name in ("broken", "truncated"):
        decision = inspect(make(ElfHandler), tmp_path, f"usr/bin/{name}")
        assert isinstance(decision, Leave), (name, decision)
        assert decision.outcome is Outcome.UNSUPPORTED
        assert decision.why.startswith("ELF file pyelftools cannot parse: ")


def test_wants_is_selective(tmp_path: Path) -> None:
    files = {
        "usr/bin/tool": 100,
        "usr/lib64/libx.so.1": 100,
        "opt/app/bin/app": 100,
        "usr/bin/tiny": 10,
        "usr/lib/python3.11/os.py": 100,
        "usr/share/doc/x/binary": 100,
        "usr/lib/firmware/blob": 100,
        "usr/lib/debug/.build-id/ab/cd.debug": 100,
        "etc/tool": 100,
    }
    for rel, size in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * size)
    inv = walk(str(tmp_path))
    handler = make(ElfHandler)
    wanted = {e.rel.decode() for e in inv.entries if handler.wants(e)}
    assert wanted == {"usr/bin/tool", "usr/lib64/libx.so.1", "opt/app/bin/app"}
    everywhere = make(ElfHandler, {"paths": ("",), "exclude": ()})
    wanted = {e.rel.decode() for e in inv.entries if everywhere.wants(e)}
    assert wanted == set(files) - {"usr/bin/tiny", "usr/lib/python3.11/os.py"}
    # a non-ELF file that is opened anyway costs the shared head read and nothing else
    assert inspect(handler, tmp_path, "usr/bin/tool") is None
