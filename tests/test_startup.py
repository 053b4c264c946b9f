"""Start-up stays small: heavy code is imported only when a file in the tree needs it."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

from pytrees import build
from testlib import SRC

# dataclasses too: importing it (it imports inspect) and making ~15 classes with it took as long
# as all of rootnorm's own imports; start-up classes are NamedTuples or plain classes
HEAVY = (
    "elftools",
    "rootnorm.archives",
    "rootnorm.formats",
    "multiprocessing",
    "tqdm",
    "dataclasses",
)
SHOW_MODULES = (
    "import sys\n"
    "from rootnorm import cli\n"
    "code = cli.main(sys.argv[1:])\n"
    "print(*sorted(sys.modules))\n"
    "sys.exit(code)\n"
)


def loaded(*args: str) -> set[str]:
    """The heavy modules a real run (in a fresh interpreter) has imported when it ends."""
    proc = subprocess.run(
        [sys.executable, "-B", "-c", SHOW_MODULES, "--quiet", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC)},
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = set(proc.stdout.split())
    return {name for name in names for heavy in HEAVY if name == heavy or name.startswith(heavy)}


def test_no_archive_or_elf_code_for_a_tree_without_them(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    build(root, ("3.11",))
    assert loaded("--profile", "ostree", str(root)) == set()
    assert loaded("--profile", "audit", str(root)) == set()


def test_archive_and_elf_code_load_when_a_file_needs_them(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "share").mkdir(parents=True)
    (root / "usr" / "share" / "page.1.gz").write_bytes(gzip.compress(b"page\n", mtime=0))
    shutil.copy2("/bin/true", root / "usr" / "bin" / "true")
    ostree = loaded("--profile", "ostree", str(root))
    assert "rootnorm.archives.gzipfmt" in ostree
    assert not any(name.startswith("elftools") for name in ostree)
    audit = loaded("--profile", "audit", str(root))
    assert "elftools" in audit
    assert not any(name.startswith("rootnorm.archives") for name in audit)
