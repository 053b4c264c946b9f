SUMMARY = "Post-process OS image root filesystems: valid .pyc caches, mtime policy, archives"
DESCRIPTION = "rootnorm fixes Python bytecode cache headers so they match their sources' \
final mtimes (0 on OSTree, REPRODUCIBLE_TIMESTAMP_ROOTFS elsewhere), clamps or sets file \
mtimes and normalises archives. Use it through rootnorm.bbclass."
LICENSE = "MIT"
# pyproject.toml line 11: license = { text = "MIT" }
LIC_FILES_CHKSUM = "file://pyproject.toml;beginline=11;endline=11;md5=7d995d69c29a01e73a161f8674ecfc0c"

# Build the source tree this layer ships in (ROOTNORM_SRCDIR is set by conf/layer.conf).
# To build a release instead, set in a bbappend or local.conf, for example:
#   EXTERNALSRC:pn-rootnorm-native = ""
#   SRC_URI:pn-rootnorm-native = "git://example.org/rootnorm.git;protocol=https;branch=main"
#   SRCREV:pn-rootnorm-native = "<commit>"
inherit externalsrc python_setuptools_build_meta
EXTERNALSRC ?= "${ROOTNORM_SRCDIR}"
EXTERNALSRC_BUILD ?= "${WORKDIR}/build"

RDEPENDS:${PN} = " \
    python3-modules \
    python3-pyelftools \
    python3-tqdm \
    python3-tomli \
    python3-xattr \
"

BBCLASSEXTEND = "native nativesdk"
