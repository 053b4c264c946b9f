"""bootc: the Containerfiles' rootnorm steps, run as RUN runs them, then deployed the way
bootc deploys (through ostree) and imported with the target's own interpreter.

No container engine runs on the test machines, so RUN is reproduced: `/bin/sh -c` with
the step's exact command, in a chroot of a debootstrap'd rootfs, with a clean
environment, a private /proc and /dev, and /etc/resolv.conf bind-mounted from outside
(as podman/buildah do). The builder-stage pattern runs rootnorm from the host Python on a
tree at .../target-rootfs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from pathlib import Path

import pytest
from integ_support import (
    PROBE_MODULES,
    REPO_ROOT,
    TARGET_SITE,
    add_probe_package,
    copy_tree,
    diff_snapshots,
    host_rootnorm_shim,
    import_probe,
    install_rootnorm,
    matched_sources,
    ostree_commit_checkout,
    run,
    snapshot,
    stale_names,
)

CONTAINERFILE = REPO_ROOT / "container" / "Containerfile"
BUILDER_CONTAINERFILE = REPO_ROOT / "container" / "Containerfile.builder"
IMPORTS = ("email.mime.text", "json", "xattr", "tqdm", "elftools.elf.elffile", *PROBE_MODULES)
EMPTY_SOURCES = (
    "/usr/lib/python3.11/email/mime/__init__.py",
    f"/{TARGET_SITE}/rnprobe/empty_pkg/__init__.py",
)
# What `bootc container lint` wants untouched, plus the API file systems.
LEFT_ALONE = ("run", "tmp", "var")
OLD = 1_000_000_000  # 2001-09-09: any rewrite of these entries' times is visible


def run_steps(containerfile: Path) -> list[str]:
    """The RUN instructions of a Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", containerfile.read_text())
    return [line[4:].strip() for line in text.splitlines() if line.startswith("RUN ")]


def rootnorm_command(step: str) -> str:
    """The `&&`-separated part of a RUN step that runs rootnorm."""
    parts = [part.strip() for part in step.split("&&") if "rootnorm --profile" in part]
    assert len(parts) == 1, step
    return parts[0]


def test_containerfiles_run_rootnorm_in_the_installing_step() -> None:
    steps = run_steps(CONTAINERFILE)
    installing = [step for step in steps if "dnf -y install" in step]
    assert len(installing) == 1
    assert "rootnorm --profile ostree /" in installing[0], "same step as the install"
    assert steps[-1] == "bootc container lint"
    builder = run_steps(BUILDER_CONTAINERFILE)
    assert any("rootnorm --profile ostree /target-rootfs" in step for step in builder)
    assert builder[-1] == "bootc container lint"
    assert "COPY --from=builder /target-rootfs/ /" in BUILDER_CONTAINERFILE.read_text()


def seed_state_dirs(root: Path) -> None:
    """Give /run, /tmp and /var content and old times, like a dnf transaction leaves."""
    for rel, text in {
        "var/log/dnf.log": "log\n",
        "var/cache/dnf/packages.db": "db\n",
        "var/lib/dnf/history.sqlite": "hist\n",
        "tmp/build-leftover": "x\n",
        "run/lock/subsys/keep": "",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "var/log/dnf.librepo.log").symlink_to("dnf.log")
    for sub in LEFT_ALONE:
        for dirpath, dirnames, filenames in os.walk(root / sub, followlinks=False):
            for name in [*dirnames, *filenames]:
                os.utime(os.path.join(dirpath, name), (OLD, OLD), follow_symlinks=False)
        os.utime(root / sub, (OLD, OLD))


def run_step_in_chroot(root: Path, command: str, resolv: Path) -> tuple[int, str]:
    """Run `command` as a RUN step would: /bin/sh -c in the rootfs, clean environment,
    private /proc and /dev, /etc/resolv.conf bind-mounted from the host side."""
    env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin container=oci"
    inner = (
        f"set -e; R={shlex.quote(str(root))}; "
        'mount -t proc proc "$R/proc"; mount -t tmpfs -o mode=0755 tmpfs "$R/dev"; '
        f'mount --bind {shlex.quote(str(resolv))} "$R/etc/resolv.conf"; '
        f'exec chroot "$R" /usr/bin/env -i {env} /bin/sh -c {shlex.quote(command)}'
    )
    proc = run(
        ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", inner],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def deployed_stale(root: Path, tmp_path: Path, name: str) -> tuple[int, int, str]:
    checkout = tmp_path / f"deployed-{name}"
    ostree_commit_checkout(root, tmp_path / "repo", name, checkout)
    return import_probe(checkout, IMPORTS)


@pytest.mark.slow
def test_derived_image_run_step(
    debian_rootfs: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = tmp_path / "rootfs"
    copy_tree(debian_rootfs, root)
    add_probe_package(root)
    install_rootnorm(root)
    seed_state_dirs(root)
    (root / "etc/resolv.conf").write_text("# from the image\n")
    # podman/buildah bind this from their run directory, a tmpfs: another file system.
    shm = Path(tempfile.mkdtemp(prefix="rootnorm-test-", dir="/dev/shm"))
    request.addfinalizer(lambda: shutil.rmtree(shm, ignore_errors=True))
    resolv = shm / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.1\n")
    os.utime(resolv, (OLD, OLD))

    stale_before, _m, _e = deployed_stale(root, tmp_path, "untreated")
    assert stale_before >= 40, "the untreated deployment must show stale caches"

    state_before = snapshot(root, LEFT_ALONE)
    step = next(s for s in run_steps(CONTAINERFILE) if "rootnorm" in s)
    code, output = run_step_in_chroot(root, rootnorm_command(step), resolv)
    print(output[-3000:])
    assert code == 0, output[-4000:]

    changed = diff_snapshots(state_before, snapshot(root, LEFT_ALONE))
    assert changed == [], "rootnorm changed /run, /tmp or /var:\n" + "\n".join(changed[:20])
    assert os.stat(resolv).st_mtime == OLD, "rootnorm crossed into a bind-mounted file"
    assert (root / "etc/resolv.conf").read_text() == "# from the image\n"
    assert not list((root / "proc").iterdir()) and not list((root / "dev").iterdir())
    assert list((root / TARGET_SITE / "rootnorm").rglob("*.pyc")) == []

    stale_after, matches_after, err = deployed_stale(root, tmp_path, "treated")
    print(
        f"derived image: untreated {stale_before} stale; treated {stale_after} stale, "
        f"{matches_after} matches"
    )
    assert stale_after == 0, stale_names(err)
    assert matches_after >= 40
    assert set(EMPTY_SOURCES) <= matched_sources(err)


@pytest.mark.slow
def test_builder_stage_pattern(debian_rootfs: Path, tmp_path: Path) -> None:
    target = tmp_path / "target-rootfs"
    copy_tree(debian_rootfs, target)
    add_probe_package(target)
    seed_state_dirs(target)
    state_before = snapshot(target, LEFT_ALONE)

    step = next(s for s in run_steps(BUILDER_CONTAINERFILE) if "rootnorm" in s)
    command = rootnorm_command(step).replace("/target-rootfs", shlex.quote(str(target)))
    # The builder's own Python runs this checkout's rootnorm.
    shim = host_rootnorm_shim(tmp_path / "builder-bin")
    proc = run(
        ["/bin/sh", "-c", command],
        env={"PATH": f"{shim.parent}:/usr/sbin:/usr/bin:/sbin:/bin"},
        check=False,
    )
    print(proc.stdout[-2000:], proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stderr[-4000:]
    changed = diff_snapshots(state_before, snapshot(target, LEFT_ALONE))
    assert changed == [], "\n".join(changed[:20])

    stale_after, matches_after, err = deployed_stale(target, tmp_path, "builder")
    assert stale_after == 0, stale_names(err)
    assert matches_after >= 40
    assert set(EMPTY_SOURCES) <= matched_sources(err)
