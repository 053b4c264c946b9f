"""The sdist and wheel, built with the setuptools each target builds with, the way it builds.

- EL9 (RHEL 9 / EPEL): Python 3.9, setuptools 53.0.0, wheel 0.36.2; %pyproject_wheel runs
  `pip wheel --no-build-isolation` in the unpacked source tarball.
- OpenEmbedded kirkstone: Python 3.10, setuptools 59.5.0, wheel 0.37.1; python_pep517.bbclass
  calls `setuptools.build_meta.build_wheel()` in the unpacked source.
- current setuptools and wheel from PyPI on Python 3.13, through pip.

Each builds the sdist from this checkout, then the wheel from that unpacked sdist (as the
spec and the recipe do), in a clean venv without build isolation; the wheel is checked and
installed with its requirements, and the installed command runs.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from integ_support import SRC_PACKAGE, build_sdist, run, source_tree
from testlib import interpreter, unavailable

VERSION = re.search(r'^__version__ = "(.+)"$', (SRC_PACKAGE / "__init__.py").read_text(), re.M)
assert VERSION
VERSION_TEXT = VERSION.group(1)
BUILDS = {
    "el9-setuptools53": ("3.9", ["setuptools==53.0.0", "wheel==0.36.2"], "pip"),
    "kirkstone-setuptools59.5": ("3.10", ["setuptools==59.5.0", "wheel==0.37.1"], "pep517"),
    "current-setuptools": ("3.13", ["setuptools", "wheel"], "pip"),
}
# What the spec's %doc/%license and users of the integrations need from the sdist.
SDIST_FILES = (
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "docs/integrations.md",
    "docs/findings.md",
    "packaging/rootnorm.spec",
    "container/Containerfile",
    "treefile-snippets/rootnorm.yaml",
    "setup.cfg",
    "pyproject.toml",
    "PKG-INFO",
)
REQUIREMENTS = {
    "pyelftools>=0.29",
    "xattr>=0.10",
    "tqdm>=4.60",
    'tomli>=1.1;python_version<"3.11"',
}


def package_modules() -> set[str]:
    names = {p.relative_to(SRC_PACKAGE.parent).as_posix() for p in SRC_PACKAGE.rglob("*.py")}
    names |= {p.relative_to(SRC_PACKAGE.parent).as_posix() for p in SRC_PACKAGE.rglob("*.toml")}
    return names


def normalised(requirement: str) -> str:
    """setuptools 53 writes `tomli (>=1.1) ; python_version < "3.11"`, newer ones without
    the parentheses: compare without those differences."""
    return re.sub(r"[\s()]", "", requirement)


@pytest.mark.slow
@pytest.mark.parametrize("build", sorted(BUILDS))
def test_wheel_and_sdist(build: str, tmp_path: Path) -> None:
    python_version, backend, frontend = BUILDS[build]
    python = interpreter(python_version)
    if shutil.which("git") is None:
        unavailable("git (Debian package git)")
    venv = tmp_path / "venv"
    run([str(python), "-m", "venv", str(venv)])
    vpython = str(venv / "bin" / "python")
    pip = [vpython, "-m", "pip", "--disable-pip-version-check", "-q"]
    run([*pip, "install", *backend], timeout=300)

    # The sdist, from the checkout.
    sdist = build_sdist(vpython, source_tree(tmp_path / "checkout"), tmp_path / "dist")
    assert sdist.name == f"rootnorm-{VERSION_TEXT}.tar.gz"
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        tar.extractall(tmp_path / "unpacked")
    missing = [rel for rel in SDIST_FILES if rel not in names]
    assert missing == [], f"the sdist lacks {missing}"
    assert {f"src/{name}" for name in package_modules()} <= names
    assert not any(name.startswith("meta-rootnorm") for name in names), (
        "the layer's recipe pins the sdist's checksum: it cannot be inside the sdist"
    )

    # The wheel, from the unpacked sdist, as each target's tooling builds it.
    unpacked = tmp_path / "unpacked" / f"rootnorm-{VERSION_TEXT}"
    wheels = tmp_path / "wheels"
    if frontend == "pip":
        run(
            [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
            cwd=unpacked,
        )
    else:
        api = "import setuptools.build_meta as api, sys; print(api.build_wheel(sys.argv[1]))"
        run([vpython, "-c", api, str(wheels)], cwd=unpacked)
    wheel = wheels / f"rootnorm-{VERSION_TEXT}-py3-none-any.whl"
    assert wheel.is_file(), sorted(wheels.iterdir())
    info = f"rootnorm-{VERSION_TEXT}.dist-info"
    with zipfile.ZipFile(wheel) as whl:
        assert package_modules() <= set(whl.namelist()), "modules or profiles missing"
        metadata = email.parser.Parser().parsestr(whl.read(f"{info}/METADATA").decode())
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    assert (metadata["Name"], metadata["Version"]) == ("rootnorm", VERSION_TEXT)
    assert metadata["Requires-Python"] == ">=3.9"
    requires = {
        normalised(r) for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r
    }
    assert requires == {normalised(r) for r in REQUIREMENTS}
    assert re.search(r"^\[console_scripts\]\nrootnorm = rootnorm\.cli:main$", entry_points, re.M)

    # Installed with its requirements (from the index), the command runs with its profiles.
    run([*pip, "install", str(wheel)], timeout=300)
    command = venv / "bin" / "rootnorm"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    assert run([str(command), "--version"], env=env).stdout.strip() == f"rootnorm {VERSION_TEXT}"
    target = tmp_path / "target"
    (target / "pkg").mkdir(parents=True)
    (target / "pkg" / "mod.py").write_text("X = 1\n")
    run([vpython, "-m", "compileall", "-q", str(target)], env=env)
    for path in target.rglob("*"):
        path.touch()  # the pycs' headers no longer match their sources' mtimes
    proc = subprocess.run(
        [str(command), "--check", "--profile", "ostree", str(target)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: something would change
    assert "Traceback" not in proc.stderr
