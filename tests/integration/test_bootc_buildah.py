"""bootc for real: container/Containerfile's flow built by buildah (Debian's, vfs storage,
chroot isolation, everything local: no registry, no network).

The base image is a debootstrap'd Debian with python3 and rootnorm installed (imported with
`buildah from scratch` + copy + commit), "unprocessed" as today's bootc bases are: its pycs
carry the build's mtimes and are stale once ostree deploys every .py with mtime 0. Debian
has no dnf, so the install step is `dpkg -i` of Debian python3 packages (their postinst
byte-compiles them, as an RPM's payload ships pycs); the rootnorm part of the step is the
Containerfile's own command, and `bootc container lint` (not in Debian) is left out.

Three builds, as docs/integrations.md reports them: the Containerfile's flow on the
unprocessed base (its RUN then also fixes the base's files); on that image, now a processed
base, the same flow again with other packages; and, on it too, the install and rootnorm in
two RUNs. The images go to one local OCI layout (uncompressed layers), where the layers are
measured and listed; the processed-base image is then committed to ostree, checked out, and
imported with the target's python3.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from integ_support import (
    PROBE_MODULES,
    add_probe_package,
    cache_dir,
    copy_tree,
    import_probe,
    install_rootnorm,
    ostree_commit_checkout,
    run,
    stale_names,
)
from test_bootc import CONTAINERFILE, rootnorm_command, run_steps
from testlib import unavailable

# Installed by the derived images' RUNs: pure-Python packages whose dependencies the image
# has. The first derived image installs six, those built on it idna and urllib3.
DEBS = {"first": ("python3-six",), "second": ("python3-idna", "python3-urllib3")}
IMPORTS = ("email.mime.text", "json", "xattr", "idna", "six", "urllib3", *PROBE_MODULES)
PRUNED = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/locale",
    "usr/share/doc",
    "usr/share/man",
)
# Files every RUN layer of buildah holds whatever the step did (its mount points).
RUN_ARTEFACTS = {"etc/hosts", "etc/resolv.conf", "run/.containerenv"}


class Buildah:
    def __init__(self, top: Path) -> None:
        self.argv = [
            "buildah",
            f"--root={top / 'storage'}",
            f"--runroot={top / 'run'}",
            "--storage-driver=vfs",
        ]
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(top), "LANG": "C"}

    def __call__(self, *args: str) -> str:
        return run([*self.argv, *args], env=self.env, timeout=900).stdout.strip()

    def import_tree(self, tree: Path, name: str) -> None:
        container = self("from", "scratch")
        mount = Path(self("mount", container))
        run(["cp", "-a", f"{tree}/.", str(mount)])
        self("commit", "--quiet", container, name)
        self("rm", container)

    def export_tree(self, image: str) -> tuple[str, Path]:
        container = self("from", "--pull-never", image)
        return container, Path(self("mount", container))


@pytest.fixture
def buildah(tmp_path: Path) -> Iterator[Buildah]:
    if shutil.which("buildah") is None:
        unavailable("buildah (Debian package buildah)")
    tool = Buildah(tmp_path / "buildah")
    yield tool
    run([*tool.argv, "rm", "--all"], env=tool.env, check=False)
    run([*tool.argv, "rmi", "--all", "--force"], env=tool.env, check=False)
    shutil.rmtree(tmp_path / "buildah", ignore_errors=True)


def debs() -> Path:
    """The .debs the RUNs install, downloaded once (Debian's own archive) and cached."""
    target = cache_dir() / "bootc-debs-v2"
    if not target.is_dir():
        scratch = target.with_name(target.name + ".part")
        shutil.rmtree(scratch, ignore_errors=True)
        for name, packages in DEBS.items():
            (scratch / name).mkdir(parents=True)
            env = {"PATH": "/usr/bin:/bin"}
            run(["apt-get", "download", *packages], cwd=scratch / name, env=env)
        scratch.rename(target)
    return target


def containerfile(debs: str, later_run: bool) -> str:
    """container/Containerfile with Debian's install in place of dnf's, the rootnorm command
    exactly as shipped, in the installing RUN or in a RUN of its own."""
    text = CONTAINERFILE.read_text()
    arg_from = [line for line in text.splitlines() if line.startswith(("ARG ", "FROM "))]
    step = next(s for s in run_steps(CONTAINERFILE) if "rootnorm --profile" in s)
    command = rootnorm_command(step)
    install = f"--mount=type=bind,source=debs/{debs},target=/debs dpkg -i /debs/*.deb"
    runs = [f"RUN {install}", f"RUN {command}"] if later_run else [f"RUN {install} && {command}"]
    return "\n".join([*arg_from, *runs]) + "\n"


def base_tree(debian_rootfs: Path, dest: Path) -> Path:
    copy_tree(debian_rootfs, dest)
    # Smaller images build faster with vfs (a full copy per container); none of this is
    # Python or read by the RUN.
    for rel in PRUNED:
        shutil.rmtree(dest / rel)
        (dest / rel).mkdir()
    add_probe_package(dest)
    install_rootnorm(dest)
    return dest


def layers(layout: Path, tag: str) -> list[Path]:
    """The image's layer tars, base first (uncompressed: pushed with compression off)."""
    index = json.loads((layout / "index.json").read_text())
    ref = "org.opencontainers.image.ref.name"
    entry = next(m for m in index["manifests"] if m["annotations"][ref] == tag)
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / entry["digest"].split(":")[1]).read_text())
    return [blobs / layer["digest"].split(":")[1] for layer in manifest["layers"]]


def layer_files(layer: Path) -> dict[str, int]:
    """Regular files in a layer tar (buildah's own RUN mount points left out): size each."""
    with tarfile.open(layer) as tar:
        return {
            member.name.lstrip("./"): member.size
            for member in tar.getmembers()
            if member.isfile() and member.name.lstrip("./") not in RUN_ARTEFACTS
        }


def deployed_stale(
    buildah: Buildah, image: str, tmp_path: Path, modules: tuple[str, ...] = IMPORTS
) -> tuple[int, int, str]:
    container, tree = buildah.export_tree(image)
    checkout = tmp_path / f"deployed-{image.rsplit('/', 1)[1]}"
    try:
        ostree_commit_checkout(tree, tmp_path / "repo", image.rsplit("/", 1)[1], checkout)
    finally:
        buildah("rm", container)
    return import_probe(checkout, modules)


@pytest.mark.slow
def test_containerfile_flow_with_buildah(
    debian_rootfs: Path, buildah: Buildah, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    context = tmp_path / "context"
    shutil.copytree(debs(), context / "debs")
    tree = base_tree(debian_rootfs, tmp_path / "base")
    buildah.import_tree(tree, "localhost/rootnorm-test/base")
    shutil.rmtree(tree)
    print(f"{time.monotonic() - t0:.0f} s: imported the base")

    # tag: (FROM, debs, rootnorm in a later RUN)
    builds = {
        "unprocessed-base": ("base", "first", False),  # its RUN processes the base as well
        "same-run": ("unprocessed-base", "second", False),
        "later-run": ("unprocessed-base", "second", True),
    }
    layout = tmp_path / "oci"
    for tag, (base, debs_set, later_run) in builds.items():
        (context / f"Containerfile.{tag}").write_text(containerfile(debs_set, later_run))
        buildah(
            "bud",
            "--isolation=chroot",
            "--layers",  # one layer per RUN, as podman build makes them
            "--pull-never",
            f"--build-arg=BASE_IMAGE=localhost/rootnorm-test/{base}",
            f"--tag=localhost/rootnorm-test/{tag}",
            f"--file={context / f'Containerfile.{tag}'}",
            str(context),
        )
        image = f"localhost/rootnorm-test/{tag}"
        buildah("push", "--quiet", "--disable-compression", image, f"oci:{layout}:{tag}")
        print(f"{time.monotonic() - t0:.0f} s: built and pushed {tag}")

    raw = layers(layout, "unprocessed-base")
    same = layers(layout, "same-run")
    later = layers(layout, "later-run")
    assert (len(raw), len(same), len(later)) == (2, 3, 4)
    sizes = {
        "same RUN, unprocessed base": raw[-1].stat().st_size,
        "same RUN, processed base": same[-1].stat().st_size,
        "install RUN alone": later[-2].stat().st_size,
        "rootnorm in a later RUN": later[-1].stat().st_size,
    }
    for what, size in sizes.items():
        print(f"layer: {what}: {size / 1024:.0f} KiB")

    installed = layer_files(later[-2])
    assert any(re.search(r"/urllib3/__pycache__/.*\.pyc$", name) for name in installed)
    # On a processed base the same RUN holds exactly the files the install changed.
    assert set(layer_files(same[-1])) == set(installed)
    # A later RUN copies up again (a second copy in the image) what rootnorm changed: every
    # pyc the install wrote, and the sources whose mtime it set.
    again = layer_files(later[-1])
    assert set(again) <= set(installed)
    assert {name for name in installed if name.endswith(".pyc")} <= set(again)
    # On an unprocessed base the RUN also carries every base file rootnorm changed.
    first_install = {"usr/lib/python3/dist-packages/six.py"}
    assert first_install < set(layer_files(raw[-1]))
    assert len(layer_files(raw[-1])) > 5 * len(installed)

    # The image, deployed as bootc deploys it (ostree), imports with valid caches only.
    stale, matches, err = deployed_stale(buildah, "localhost/rootnorm-test/same-run", tmp_path)
    print(f"{time.monotonic() - t0:.0f} s: deployed: {stale} stale, {matches} matches")
    assert stale == 0, stale_names(err)
    assert matches >= 40
