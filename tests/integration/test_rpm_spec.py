"""packaging/rootnorm.spec: parsed by rpmspec and built into a source RPM by rpmbuild
(Debian's `rpm` package). A binary build needs Fedora's pyproject-rpm-macros and
python3-devel, which Debian does not have; that part is checked on Fedora (mock/koji)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from integ_support import REPO_ROOT, run

SPEC = REPO_ROOT / "packaging" / "rootnorm.spec"


def version() -> str:
    for line in (REPO_ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError("no version in pyproject.toml")


@pytest.mark.slow
def test_spec_builds_a_source_rpm(tmp_path: Path) -> None:
    for tool in ("rpmbuild", "rpmspec", "git"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (Debian package: rpm / git)")
    assert f"Version:        {version()}" in SPEC.read_text(), "spec and pyproject disagree"
    assert "BuildArch:      noarch" in SPEC.read_text()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)}
    query = run(["rpmspec", "-q", "--srpm", str(SPEC)], env=env)
    assert query.stdout.strip() == f"rootnorm-{version()}-1.src"
    sources = tmp_path / "SOURCES"
    sources.mkdir()
    tarball = sources / f"rootnorm-{version()}.tar.gz"
    run(
        [
            "git",
            "-C",
            str(REPO_ROOT),
            "archive",
            f"--prefix=rootnorm-{version()}/",
            "-o",
            str(tarball),
            "HEAD",
        ],
        env=env,
    )
    proc = run(["rpmbuild", "--define", f"_topdir {tmp_path}", "-bs", str(SPEC)], env=env)
    srpm = tmp_path / "SRPMS" / f"rootnorm-{version()}-1.src.rpm"
    assert srpm.exists(), proc.stdout + proc.stderr
    requires = run(["rpm", "-qp", "--requires", str(srpm)], env=env).stdout.split("\n")
    assert "pyproject-rpm-macros" in requires and "python3-devel" in requires
