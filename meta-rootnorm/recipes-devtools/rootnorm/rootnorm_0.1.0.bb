SUMMARY = "Make image root filesystems reproducible: valid .pyc caches, mtimes, archives"
DESCRIPTION = "rootnorm fixes Python bytecode cache headers so they match their sources' \
               final mtimes (0 on OSTree, REPRODUCIBLE_TIMESTAMP_ROOTFS elsewhere), clamps \
               or sets file mtimes and normalises archives. Use it through rootnorm.bbclass."
HOMEPAGE = "https://github.com/rootnorm/rootnorm"
BUGTRACKER = "https://github.com/rootnorm/rootnorm/issues"
SECTION = "devel/python"
CVE_PRODUCT = "rootnorm"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=a53ec80ac59dab9c0556cef9936d290c"

# The release sdist (not on PyPI): built by `python3 -m build --sdist` at the release tag
# and attached to the release; the release step puts its sha256 here. For development
# builds of a checkout, use externalsrc instead (docs/integrations.md):
#   INHERIT += "externalsrc"
#   EXTERNALSRC:pn-rootnorm-native = "/path/to/rootnorm"
SRC_URI = "https://github.com/rootnorm/rootnorm/releases/download/v${PV}/rootnorm-${PV}.tar.gz"
SRC_URI[sha256sum] = "989d78f0aeb0201cf1fcc85d32764468fb3229e24f474cf301dff3aae1dd8c4e"

inherit python_setuptools_build_meta

RDEPENDS:${PN} = "${@rootnorm_tomli(d)} python3-modules python3-pyelftools python3-tqdm python3-xattr"

def rootnorm_tomli(d):
    """tomli only where Python is older than 3.11 (kirkstone: 3.10); tomllib after."""
    version = tuple(int(part) for part in d.getVar('PYTHON_BASEVERSION').split('.'))
    return 'python3-tomli' if version < (3, 11) else ''

# The class needs the native tool only; oe-core's python3-pyelftools has no nativesdk.
BBCLASSEXTEND = "native"
