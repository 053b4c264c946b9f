"""meta-rootnorm with the OpenEmbedded community's own tools.

- oelint-adv (PyPI), the recipe linter Yocto developers use, on the recipes, the class and
  layer.conf, for kirkstone, scarthgap and master's series (blacksail).
- The recipes against what they fetch: python3-xattr's checksums against the sdist pip
  fetches from PyPI (and that sdist built with kirkstone's setuptools 59.5 and cffi 1.15 on
  Python 3.10), rootnorm's file names and license checksum against the sdist this checkout
  builds.
- bitbake's own `bb` library (PyPI bitbake-setup 2.19): the parser and datastore read the
  layer, the recipes and an image recipe that inherits the class, on a stand-in for the
  oe-core pieces they use (written below); ROOTFS_POSTPROCESS_COMMAND then runs through
  bb.build.exec_func as oe-core's image code runs it, with this checkout's rootnorm as
  rootnorm-native, on a tree byte-compiled by real interpreters.

Where bitbake stops here: `import bb.parse` needs bitbake's `hashserv` package, which the
wheel lacks (bitbake_driver.py puts an empty one on sys.path; parsing never uses it); the
cooker, the task runner (runqueue), pseudo, fetching and the real oe-core metadata
(bitbake.conf, image.bbclass, the python3 recipes) are not available, so the stand-in below
replaces exactly the variables and classes meta-rootnorm reads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from integ_support import (
    REPO_ROOT,
    build_sdist,
    host_rootnorm_shim,
    run,
    source_tree,
    stale_names,
)
from test_openembedded import INTERPRETERS, build_image_rootfs, import_with, oe_final_stamp
from testlib import interpreter, unavailable

LAYER = REPO_ROOT / "meta-rootnorm"
RECIPE = LAYER / "recipes-devtools" / "rootnorm" / "rootnorm_0.1.0.bb"
XATTR_RECIPE = LAYER / "recipes-devtools" / "python" / "python3-xattr_0.10.1.bb"
BBCLASS = LAYER / "classes" / "rootnorm.bbclass"
LAYER_FILES = (RECIPE, XATTR_RECIPE, BBCLASS, LAYER / "conf" / "layer.conf")
# oelint-adv's --release names: the oldest and newest LTS the layer supports, and master.
LINT_RELEASES = ("kirkstone", "scarthgap", "blacksail")
LINT_SUPPRESSED = {
    # Fetches HOMEPAGE over the network: the test machines reach only package registries.
    "oelint.vars.homepageping": "needs the network",
    # Suggested for kirkstone only; oelint's variable list for blacksail no longer knows
    # AUTHOR and warns when it is set, so the recipes do not set it.
    "oelint.var.suggestedvar.AUTHOR": "unknown to newer releases",
}
OE_STAMP = "1520598896"  # bitbake.conf: REPRODUCIBLE_TIMESTAMP_ROOTFS ??=


def recipe_value(path: Path, name: str) -> str:
    match = re.search(rf'^{re.escape(name)} = "(.*)"$', path.read_text(), re.M)
    assert match, name
    return match.group(1)


@pytest.mark.slow
def test_layer_is_lint_clean() -> None:
    if shutil.which("oelint-adv") is None:
        unavailable("oelint-adv (pip install oelint-adv)")
    for release in LINT_RELEASES:
        proc = subprocess.run(
            [
                "oelint-adv",
                "--quiet",
                "--mode",
                "all",
                f"--release={release}",
                *(f"--suppress={rule}" for rule in LINT_SUPPRESSED),
                *(str(path) for path in LAYER_FILES),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        findings = (proc.stdout + proc.stderr).strip()
        assert findings == "" and proc.returncode == 0, f"{release}:\n{findings}"


@pytest.mark.slow
def test_xattr_recipe_fetches_and_builds_on_kirkstone(tmp_path: Path) -> None:
    """The checksums are those of PyPI's sdist (pip checks PyPI's sha256 as it downloads),
    and that sdist builds a wheel with kirkstone's setuptools 59.5.0, wheel 0.37.1 and
    cffi 1.15.0 on Python 3.10, through setuptools.build_meta as python_pep517 calls it."""
    python = str(interpreter("3.10"))
    version = re.search(r"_(\d[\d.]*)\.bb$", XATTR_RECIPE.name)
    assert version
    venv = tmp_path / "venv"
    run([python, "-m", "venv", str(venv)])
    vpython = str(venv / "bin" / "python")
    pip = [vpython, "-m", "pip", "--disable-pip-version-check", "-q"]
    kirkstone = ["setuptools==59.5.0", "wheel==0.37.1", "cffi==1.15.0"]
    run([*pip, "install", *kirkstone], timeout=300)
    spec = f"xattr=={version.group(1)}"
    # The sdist only, its metadata prepared with the venv's own (kirkstone) setuptools.
    sdist_only = ["--no-deps", "--no-binary", "xattr", "--no-build-isolation"]
    run([*pip, "download", *sdist_only, "-d", str(tmp_path), spec], timeout=300)
    sdist = tmp_path / f"xattr-{version.group(1)}.tar.gz"
    sha256 = hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert f'SRC_URI[sha256sum] = "{sha256}"' in XATTR_RECIPE.read_text()
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path)
    unpacked = tmp_path / f"xattr-{version.group(1)}"
    license_md5 = hashlib.md5((unpacked / "LICENSE.txt").read_bytes()).hexdigest()
    assert recipe_value(XATTR_RECIPE, "LIC_FILES_CHKSUM") == f"file://LICENSE.txt;md5={license_md5}"
    api = "import setuptools.build_meta as api, sys; print(api.build_wheel(sys.argv[1]))"
    wheel = run([vpython, "-c", api, str(tmp_path / "wheels")], cwd=unpacked).stdout.split()[-1]
    assert wheel.startswith(f"xattr-{version.group(1)}-cp310-"), wheel


@pytest.mark.slow
def test_rootnorm_recipe_names_the_sdist(tmp_path: Path) -> None:
    sdist = build_sdist(sys.executable, source_tree(tmp_path / "checkout"), tmp_path)
    pv = re.search(r"_(\d[\d.]*)\.bb$", RECIPE.name)
    assert pv
    src_uri = recipe_value(RECIPE, "SRC_URI").replace("${PV}", pv.group(1))
    assert src_uri.rsplit("/", 1)[1] == sdist.name
    checksum = recipe_value(RECIPE, "SRC_URI[sha256sum]")
    assert re.fullmatch(r"[0-9a-f]{64}", checksum) and set(checksum) != {"0"}
    with tarfile.open(sdist) as tar:
        top = {name.split("/", 1)[0] for name in tar.getnames()}
        license_file = tar.extractfile(f"rootnorm-{pv.group(1)}/LICENSE")
        assert license_file is not None
        license_md5 = hashlib.md5(license_file.read()).hexdigest()
    assert top == {f"rootnorm-{pv.group(1)}"}, "S (= ${WORKDIR}/${BP}) must be the sdist's top"
    assert recipe_value(RECIPE, "LIC_FILES_CHKSUM") == f"file://LICENSE;md5={license_md5}"


# --- bitbake ----------------------------------------------------------------------------

# The stand-in for oe-core: only what meta-rootnorm reads, with oe-core's names.
STANDIN_CORE = {
    "conf/bitbake.conf": """\
        TMPDIR = "${TOPDIR}/tmp"
        PN = "${@bb.parse.vars_from_file(d.getVar('FILE', False), d)[0] or 'defaultpkgname'}"
        PV = "${@bb.parse.vars_from_file(d.getVar('FILE', False), d)[1] or '1.0'}"
        BPN = "${PN}"
        BP = "${BPN}-${PV}"
        WORKDIR = "${TMPDIR}/work/${PN}"
        T = "${WORKDIR}/temp"
        S = "${WORKDIR}/${BP}"
        LOGFIFO = "${T}/fifo.${@os.getpid()}"
        BB_NUMBER_THREADS ?= "5"
        IMAGE_ROOTFS = "${WORKDIR}/rootfs"
        REPRODUCIBLE_TIMESTAMP_ROOTFS ??= "1520598896"
        """,
    # logging.bbclass's bbnote: through bitbake's fifo when the task has one.
    "classes/base.bbclass": """\
        bbnote() {
        \tif [ -p ${LOGFIFO} ] ; then
        \t\tprintf "%b\\0" "bbnote $*" > ${LOGFIFO}
        \telse
        \t\techo "NOTE: $*"
        \tfi
        }
        """,
    # python3-dir.bbclass, inherited through python_setuptools_build_meta; the test sets
    # PYTHON_BASEVERSION per series (kirkstone 3.10, scarthgap 3.12, master 3.14).
    "classes/python_setuptools_build_meta.bbclass": 'PYTHON_BASEVERSION ??= "3.12"\n',
    "classes/setuptools3.bbclass": 'PYTHON_BASEVERSION ??= "3.12"\n',
    "classes/pypi.bbclass": """\
        PYPI_PACKAGE ?= "${@d.getVar('BPN').replace('python3-', '', 1)}"
        PYPI_INITIAL = "${@d.getVar('PYPI_PACKAGE')[0]}"
        PYPI_SRC_URI = "https://files.pythonhosted.org/packages/source/${PYPI_INITIAL}"
        SRC_URI:prepend = "${PYPI_SRC_URI}/${PYPI_PACKAGE}/${PYPI_PACKAGE}-${PV}.tar.gz "
        S = "${WORKDIR}/${PYPI_PACKAGE}-${PV}"
        """,
    "classes/native.bbclass": "",
    "classes/nativesdk.bbclass": "",
    "classes/image.bbclass": 'ROOTFS_POSTPROCESS_COMMAND ?= ""\n',
    "recipes-core/images/test-image.bb": "inherit image rootnorm\n",
}


def write_standin(core: Path) -> None:
    for rel, text in STANDIN_CORE.items():
        path = core / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def run_bitbake(tmp_path: Path, values: dict[str, str]) -> tuple[dict, str]:  # type: ignore[type-arg]
    if importlib.util.find_spec("bb") is None:
        unavailable("bitbake's bb library (pip install bitbake-setup)")
    stub = tmp_path / "stub" / "hashserv"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "client.py").write_text("")
    core = tmp_path / "oe-core"
    write_standin(core)
    request = {
        "stub_path": str(stub.parent),
        "core": str(core),
        "layer": str(LAYER),
        "recipes": [str(RECIPE), str(XATTR_RECIPE)],
        "python_versions": ["3.10", "3.12", "3.14"],
        "image": {
            "recipe": str(core / "recipes-core/images/test-image.bb"),
            "values": {"TOPDIR": str(tmp_path / "build"), **values},
        },
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    driver = Path(__file__).with_name("bitbake_driver.py")
    files = [str(tmp_path / "request.json"), str(tmp_path / "result.json")]
    proc = run(
        [sys.executable, "-B", str(driver), *files],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((tmp_path / "result.json").read_text()), proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("ostree", [False, True], ids=["plain-image", "ostree-image"])
def test_bitbake_parses_the_layer_and_runs_the_class(ostree: bool, tmp_path: Path) -> None:
    for version in INTERPRETERS:
        interpreter(version)
    rootfs = tmp_path / "build" / "tmp" / "work" / "test-image" / "rootfs"
    build_image_rootfs(rootfs)
    shim = host_rootnorm_shim(tmp_path / "recipe-sysroot-native" / "usr" / "bin")
    values = {
        "PATH": f"{shim.parent}:/usr/bin:/bin",
        "DISTRO_FEATURES": "systemd usrmerge" + (" sota" if ostree else ""),
        "IMAGE_FSTYPES": "ostreepush wic" if ostree else "ext4 tar.bz2",
        "IMAGE_FEATURES": "",
    }
    result, output = run_bitbake(tmp_path, values)
    print(output[-3000:])

    assert result["LAYERSERIES_COMPAT"].split()[:2] == ["kirkstone", "scarthgap"]
    assert "blacksail" in result["LAYERSERIES_COMPAT"].split()
    assert str(LAYER) in result["BBPATH"].split(":")
    recipes = result["recipes"]
    for python_version in ("3.10", "3.12", "3.14"):
        rdepends = recipes[f"rootnorm@{python_version}"]["RDEPENDS"].split()
        expected = {"python3-modules", "python3-pyelftools", "python3-tqdm", "python3-xattr"}
        if python_version == "3.10":  # kirkstone
            expected.add("python3-tomli")
        assert set(rdepends) == expected, (python_version, rdepends)
        assert recipes[f"rootnorm-native@{python_version}"]["variant"] == "native"
        assert f"python3-xattr-native@{python_version}" in recipes
    rootnorm = recipes["rootnorm@3.12"]
    assert rootnorm["SRC_URI"].endswith("/v0.1.0/rootnorm-0.1.0.tar.gz"), rootnorm["SRC_URI"]
    assert rootnorm["S"].endswith("/rootnorm-0.1.0")
    assert "python_setuptools_build_meta.bbclass" in rootnorm["inherits"]
    xattr = recipes["python3-xattr@3.12"]
    assert xattr["SRC_URI"].split() == [
        "https://files.pythonhosted.org/packages/source/x/xattr/xattr-0.10.1.tar.gz"
    ]
    assert "python3-cffi-native" in xattr["DEPENDS"].split()
    assert xattr["RDEPENDS"].split() == ["python3-cffi"]

    image = result["image"]
    assert image["ROOTFS_POSTPROCESS_COMMAND"].split() == ["rootnorm_rootfs;"]
    assert image["ROOTNORM_JOBS"] == "5", "ROOTNORM_JOBS defaults to BB_NUMBER_THREADS"
    assert image["ROOTNORM_FOR_OSTREE"] == ("1" if ostree else "0")
    assert "rootnorm-native:do_populate_sysroot" in image["do_rootfs[depends]"].split()
    assert "ROOTNORM_JOBS" in image["do_rootfs[vardeps]"].split()
    # The function ran: bbnote's message came back through bitbake's fifo to bb.note (which
    # logs at INFO).
    assert "NOTE: Executing rootnorm_rootfs ..." in output
    note = "OSTree image" if ostree else f"pyc header set to {OE_STAMP}"
    assert re.search(rf"^INFO: rootnorm: .*{note}", output, re.M), output[-2000:]

    oe_final_stamp(rootfs, OE_STAMP)
    if ostree:
        return  # the OSTree deployment itself is test_openembedded.py's test_ostree_image
    for version in INTERPRETERS:
        stale, matches, err = import_with(version, rootfs)
        assert stale == 0, stale_names(err)
        assert matches >= 8
