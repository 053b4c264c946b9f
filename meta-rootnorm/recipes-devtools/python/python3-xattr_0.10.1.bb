SUMMARY = "Python wrapper for extended filesystem attributes"
DESCRIPTION = "xattr exposes the extended attributes of files to Python, through cffi."
HOMEPAGE = "https://github.com/xattr/xattr"
BUGTRACKER = "https://github.com/xattr/xattr/issues"
SECTION = "devel/python"
CVE_PRODUCT = "xattr"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE.txt;md5=7ebb582f22ddff5dcb0bc33d04f7cbb8"

# 0.10.1 keeps its metadata in setup.py, which kirkstone's setuptools 59.5 reads; 1.x
# declares it in [project] and wants setuptools >= 68 and cffi >= 1.16 (kirkstone: 1.15).
SRC_URI[sha256sum] = "c12e7d81ffaa0605b3ac8c22c2994a8e18a9cf1c59287a1b7722a2289c952ec5"

inherit pypi setuptools3

DEPENDS += "python3-cffi-native"
RDEPENDS:${PN} += "python3-cffi"

BBCLASSEXTEND = "native nativesdk"
