"""packaging/rootnorm.spec: a source RPM built for real from the release sdist with Debian's
`rpm` (rpmbuild -bs), and every macro and package name the spec uses checked against what
Fedora and EL9 ship.

A binary build (-bb) cannot run here: Debian has neither pyproject-rpm-macros nor
python-rpm-macros, so rpmbuild stops at %generate_buildrequires ("%pyproject_buildrequires:
not found"). That part belongs to mock/koji/copr on Fedora and EL9.
"""

from __future__ import annotations

import re
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
from integ_support import REPO_ROOT, SRC_PACKAGE, build_sdist, run, source_tree
from testlib import unavailable

SPEC = REPO_ROOT / "packaging" / "rootnorm.spec"
VERSION = re.search(r'^__version__ = "(.+)"$', (SRC_PACKAGE / "__init__.py").read_text(), re.M)
assert VERSION
VERSION_TEXT = VERSION.group(1)

# Macros from pyproject-rpm-macros, with the first release that has each one in the form
# the spec uses. Checked against the macros.pyproject history of Fedora's dist-git
# (mirror: github.com/xcp-ng-rpms/pyproject-rpm-macros, Fedora's master and f37 branches):
# all of these, including %pyproject_check_import with -t and %pyproject_buildrequires
# with -R, are in 1.0.0 (March 2022), the release CentOS Stream 9 / RHEL 9 took in; Fedora
# 42+ has 1.18. pyproject-rpm-macros is in RHEL 9's CRB repository.
PYPROJECT_MACROS = {
    "pyproject_buildrequires": "1.0.0 (options rRxtNe:)",
    "pyproject_wheel": "1.0.0",
    "pyproject_install": "1.0.0",
    "pyproject_save_files": "1.0.0",
    "pyproject_check_import": "1.0.0 (options e:t, via python-rpm-macros' %py3_check_import)",
    "pyproject_files": "1.0.0",
}
# Conditionals the distribution's own macros define (redhat-rpm-config); the spec only uses
# them in %{?name} / 0%{?name} forms, which expand to nothing where undefined.
OPTIONAL = {"dist", "fedora", "rhel"}
# Spec sections and directives: not macros.
SPEC_KEYWORDS = {
    "description",
    "prep",
    "generate_buildrequires",
    "build",
    "install",
    "check",
    "files",
    "changelog",
    "license",
    "doc",
    "if",
    "endif",
}
# Package names, with where each comes from (packages.fedoraproject.org release tables;
# RHEL 9's own packages: the el9 branches of the OpenELA source mirror).
PACKAGES = {
    "python3-devel": ("Fedora", "RHEL 9 AppStream"),
    "pyproject-rpm-macros": ("Fedora", "RHEL 9 CRB"),
    "python3-xattr": ("Fedora", "EPEL 9: 0.10.0-8.el9"),
    "python3-tqdm": ("Fedora", "EPEL 9: 4.65.0-2.el9"),
    "python3-tomli": ("Fedora", "RHEL 9: 2.0.1-5.el9 (openela-main/python-tomli, el9)"),
    "python3-pyelftools": ("Fedora", None),  # EPEL 8 has 0.27; EPEL 9 has none
}
KNOWN_EL9_GAPS = {"python3-pyelftools"}


def spec_macros(text: str) -> set[str]:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    names = set(re.findall(r"%\{[?!]*(\w+)", body)) | set(re.findall(r"%([A-Za-z_]\w*)", body))
    tags = {tag.lower() for tag in re.findall(r"^([A-Za-z]+):", body, re.M)}  # %{name}, ...
    return names - SPEC_KEYWORDS - tags


def test_every_macro_and_package_exists_on_fedora_and_el9() -> None:
    text = SPEC.read_text()
    macros = spec_macros(text)
    unknown = sorted(macros - set(PYPROJECT_MACROS) - OPTIONAL - rpm_own_macros(macros))
    assert unknown == [], f"macros neither rpm's own nor checked on Fedora/EL9: {unknown}"
    for name in OPTIONAL & macros:
        assert re.search(rf"%\{{\?{name}\}}", text), f"%{name} must be used as %{{?{name}}}"
    names = set(re.findall(r"^(?:Build)?Requires:\s+(\S+)", text, re.M))
    assert names <= set(PACKAGES), sorted(names - set(PACKAGES))
    el9_missing = {name for name in names if PACKAGES[name][1] is None}
    assert el9_missing == KNOWN_EL9_GAPS
    integrations = (REPO_ROOT / "docs" / "integrations.md").read_text()
    for name in KNOWN_EL9_GAPS:
        assert name in integrations, f"docs/integrations.md must say what to do about {name}"


def rpm_own_macros(names: set[str]) -> set[str]:
    """The names rpm itself defines (Debian's rpm: its own macro files only)."""
    if shutil.which("rpm") is None:
        unavailable("rpm (Debian package rpm)")
    query = " ".join(f"%{{?{name}:{name}}}" for name in sorted(names))
    return set(run(["rpm", "--eval", query]).stdout.split())


@pytest.mark.slow
def test_spec_builds_a_source_rpm_from_the_sdist(tmp_path: Path) -> None:
    for tool in ("rpmbuild", "rpmspec", "git"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} (Debian packages rpm, git)")
    text = SPEC.read_text()
    assert re.search(rf"^Version:\s+{re.escape(VERSION_TEXT)}$", text, re.M), "version differs"
    assert re.search(r"^BuildArch:\s+noarch$", text, re.M)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)}
    query = run(["rpmspec", "-q", "--srpm", str(SPEC)], env=env)
    assert query.stdout.strip() == f"rootnorm-{VERSION_TEXT}-1.src"

    sources = tmp_path / "SOURCES"
    sources.mkdir()
    sdist = build_sdist(sys.executable, source_tree(tmp_path / "checkout"), sources)
    source0 = run(["rpmspec", "-P", str(SPEC)], env=env).stdout
    match = re.search(r"^Source0:\s+\S+/([^/\s]+)$", source0, re.M)
    assert match and match.group(1) == sdist.name
    # What %doc, %license and %autosetup -n need from the sdist.
    prefix = f"rootnorm-{VERSION_TEXT}/"
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
    for rel in ("LICENSE", "README.md", "CHANGELOG.md", "docs", "setup.cfg", "pyproject.toml"):
        assert prefix + rel in names, rel

    proc = run(["rpmbuild", "--define", f"_topdir {tmp_path}", "-bs", str(SPEC)], env=env)
    srpm = tmp_path / "SRPMS" / f"rootnorm-{VERSION_TEXT}-1.src.rpm"
    assert srpm.exists(), proc.stdout + proc.stderr
    requires = run(["rpm", "-qp", "--requires", str(srpm)], env=env).stdout.split("\n")
    assert "pyproject-rpm-macros" in requires and "python3-devel" in requires
    files = run(["rpm", "-qpl", str(srpm)], env=env).stdout.split()
    assert sorted(files) == sorted([sdist.name, "rootnorm.spec"])
