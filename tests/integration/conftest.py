"""Fixtures shared by the integration tests. They need root (chroot, bubblewrap binds,
ostree bare repositories) and the tools listed in docs/integrations.md."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from integ_support import debootstrap_rootfs

REQUIRED_TOOLS = ("debootstrap", "bwrap", "ostree", "chroot", "cp")


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """A Debian bookworm minbase rootfs with python3 and rootnorm's runtime dependencies,
    built with debootstrap once and cached outside the repository (see cache_dir())."""
    if os.geteuid() != 0:
        pytest.skip("integration tests need root (chroot, bwrap binds, ostree bare repos)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing tools for integration tests: {', '.join(missing)}")
    return debootstrap_rootfs()


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points a test created; unmounted (innermost first) when the test ends."""
    created: list[Path] = []
    yield created
    for mount_point in reversed(created):
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)
