"""The ELF audit over real Python interpreters and extension modules, judged by binutils.

readelf (an independent parser) says what each file holds; the audit must report exactly that:
no false alarm, nothing missed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from audit_helpers import ids, inspect, make
from testlib import unavailable

from rootnorm.handlers.elf import ElfHandler
from rootnorm.inventory import walk

ROOTS = r"/(?:builddir|build|usr/src/packages|tmp|var/tmp|home|root|__w|builds|workspace)/"
SOURCE = re.compile(ROOTS + r"\S*\.(?:c|h|cc|cpp|cxx|hpp|inc|def|s|S|y|l)$")
DATE = re.compile(r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] [0-9]{4}$")
TIME = re.compile(r"^[0-2][0-9]:[0-5][0-9]:[0-5][0-9]$")
LIB_DYNLOAD = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


def _strings(dump: str, section: str) -> list[str]:
    """The strings `readelf -p SECTION` listed for one section of a combined dump."""
    _, _, rest = dump.partition(f"String dump of section '{section}':")
    block = rest.split("\n\n", 1)[0]
    return re.findall(r"^\s+\[\s*[0-9a-f]+\]\s+(.*)$", block, re.M)


def oracle(path: Path, tree: Path) -> set[str]:
    """The finding ids readelf's view of the file calls for (one readelf run per file)."""
    dump = subprocess.run(
        ["readelf", "-W", "-h", "-d", "-n", "-p", ".rodata", "-p", ".comment",
         "--debug-dump=info", "--dwarf-depth=1", str(path)],
        capture_output=True,
        check=False,
    ).stdout.decode("utf-8", "replace")  # fmt: skip
    expected = set()
    comp_dirs = re.findall(r"DW_AT_comp_dir\s*:.*?: (/\S*)$", dump, re.M)
    rodata = _strings(dump, ".rodata")
    data = rodata + _strings(dump, ".comment")
    if any(not d.startswith("/usr/src/debug") for d in comp_dirs) or any(
        SOURCE.match(s) for s in data
    ):
        expected.add("elf-build-path")
    if any(DATE.match(s) or TIME.match(s) for s in rodata):
        expected.add("elf-build-date")
    for value in re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dump):
        for part in value.split(":"):
            if re.match(ROOTS, part + "/") and not (tree / part.lstrip("/")).exists():
                expected.add("elf-rpath-build-path")
    linked = re.search(r"Type:\s+(EXEC|DYN)", dump)
    if linked and "NT_GNU_BUILD_ID" not in dump:
        expected.add("elf-no-build-id")
    return expected


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("readelf") is None:
        unavailable("readelf (binutils) is the oracle")
    root = tmp_path_factory.mktemp("real")
    dynload = root / "usr/lib64/python3/lib-dynload"
    dynload.mkdir(parents=True)
    modules = sorted((LIB_DYNLOAD / "lib-dynload").glob("*.so"))
    if not modules:
        unavailable(f"no extension modules in {LIB_DYNLOAD}")
    for module in modules:
        shutil.copyfile(module, dynload / module.name)
    (root / "usr/bin").mkdir()
    for binary in {Path(sys.executable).resolve(), Path("/usr/bin/python3").resolve()}:
        if binary.is_file():
            shutil.copyfile(binary, root / "usr/bin" / f"{binary.parent.parent.name}-{binary.name}")
    return root


def test_audit_agrees_with_readelf(tree: Path) -> None:
    handler = make(ElfHandler)
    inventory = walk(str(tree))
    disagree = {}
    tally: dict[str, int] = {}
    checked = 0
    for entry in inventory.entries:
        if not handler.wants(entry):
            continue
        path = tree / entry.rel.decode()
        found = ids(inspect(handler, tree, entry.rel.decode(), inventory))
        expected = oracle(path, tree)
        checked += 1
        for finding_id in found:
            tally[finding_id] = tally.get(finding_id, 0) + 1
        if found != expected:
            disagree[entry.rel.decode()] = (sorted(found), sorted(expected))
    assert checked >= 10
    assert disagree == {}
    print(f"\n{checked} real ELF files, findings: {dict(sorted(tally.items()))}")
