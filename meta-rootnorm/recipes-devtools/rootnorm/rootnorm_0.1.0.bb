SUMMARY = "Post-process OS image root filesystems: valid .pyc caches, mtime policy, archives"
DESCRIPTION = "rootnorm fixes Python bytecode cache headers so they match their sources' \
final mtimes (0 on OSTree, REPRODUCIBLE_TIMESTAMP_ROOTFS elsewhere), clamps or sets file \
mtimes and normalises archives. Use it through rootnorm.bbclass."
LICENSE = "MIT"
# pyproject.toml line 11: license = { text = "MIT" }
LIC_FILES_CHKSUM = "file://LICENSE;md5=a53ec80ac59dab9c0556cef9936d290c"

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
