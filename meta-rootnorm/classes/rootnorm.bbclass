# rootnorm.bbclass: run rootnorm on ${IMAGE_ROOTFS} so every .pyc in the image is valid
# where the image is deployed.
#
#   In an image recipe:   inherit rootnorm
#   Or for every image:   IMAGE_CLASSES += "rootnorm"   (local.conf or distro .conf)
#
# Variables:
#   ROOTNORM_PROFILE     rootnorm profile name or TOML file (default: ostree)
#   ROOTNORM_EXTRA_ARGS  more rootnorm arguments, e.g. "--report ${T}/rootnorm.json"
#   ROOTNORM_JOBS        worker processes (default: BB_NUMBER_THREADS, the build's own
#                        parallelism; 0 = one per CPU)
#   ROOTNORM_FOR_OSTREE  "1" when the rootfs becomes an OSTree commit (every mtime ends up
#                        0), "0" otherwise; detected from DISTRO_FEATURES (sota, ostree),
#                        IMAGE_FEATURES (ostree) and IMAGE_FSTYPES (ostree*, ota*).
#
# Why two modes. OE's own last step of IMAGE_PREPROCESS_COMMAND,
# reproducible_final_image_task, stamps EVERY path with REPRODUCIBLE_TIMESTAMP_ROOTFS.
# A timestamp .pyc is valid only when its header carries the mtime its .py has where it
# runs, so:
#   - OSTree images (meta-updater's sota, ...): ostree drops all mtimes and deploys 0, so
#     the ostree profile writes 0;
#   - every other image: rootnorm runs with `--mtime-policy set` and
#     SOURCE_DATE_EPOCH=${REPRODUCIBLE_TIMESTAMP_ROOTFS}: the .py files and the .pyc
#     headers get the value OE stamps on every path at the end, so the image works
#     wherever it is deployed (ext4, tar, wic...).
# In both modes the .pyc of an EMPTY source (empty __init__.py) becomes a checked-hash pyc,
# valid whatever mtime it gets.
#
# The hook is ROOTFS_POSTPROCESS_COMMAND (do_rootfs, under pseudo): after all packages and
# their postinsts, before ldconfig/depmod and long before the final stamp. The `;` keeps
# the entry valid for releases that split on ";" (kirkstone) and those that split on
# white space (scarthgap and later).

ROOTNORM_PROFILE ??= "ostree"
ROOTNORM_EXTRA_ARGS ??= ""
ROOTNORM_JOBS ??= "${BB_NUMBER_THREADS}"
ROOTNORM_FOR_OSTREE ??= "${@rootnorm_image_is_ostree(d)}"

def rootnorm_image_is_ostree(d):
    distro = (d.getVar('DISTRO_FEATURES') or '').split()
    if 'sota' in distro or 'ostree' in distro:
        return '1'
    if 'ostree' in (d.getVar('IMAGE_FEATURES') or '').split():
        return '1'
    for fstype in (d.getVar('IMAGE_FSTYPES') or '').split():
        if fstype.startswith(('ostree', 'ota')):
            return '1'
    return '0'

# Tabs in shell functions, as in oe-core's own classes (OE style guide).
# nooelint: oelint.tabs.notabs
rootnorm_rootfs () {
	# The tool must never leave bytecode of its own anywhere.
	export PYTHONDONTWRITEBYTECODE=1
	if [ "${ROOTNORM_FOR_OSTREE}" = "1" ]; then
		bbnote "rootnorm: OSTree image: profile ${ROOTNORM_PROFILE}, mtimes and pyc headers 0"
		rootnorm --profile ${ROOTNORM_PROFILE} --jobs ${ROOTNORM_JOBS} \
			${ROOTNORM_EXTRA_ARGS} ${IMAGE_ROOTFS}
		return
	fi
	# Same value and same fallbacks as reproducible_final_image_task (image.bbclass).
	rootnorm_stamp="${REPRODUCIBLE_TIMESTAMP_ROOTFS}"
	if [ -z "$rootnorm_stamp" ]; then
		rootnorm_stamp=`git -C "${COREBASE}" log -1 --pretty=%ct 2>/dev/null` || true
		if [ -z "$rootnorm_stamp" ]; then
			rootnorm_stamp=`stat -c%Y ${@bb.utils.which(d.getVar("BBPATH"), "conf/bitbake.conf")}`
		fi
	fi
	bbnote "rootnorm: profile ${ROOTNORM_PROFILE}, every mtime and pyc header set to $rootnorm_stamp (REPRODUCIBLE_TIMESTAMP_ROOTFS)"
	SOURCE_DATE_EPOCH="$rootnorm_stamp" rootnorm --profile ${ROOTNORM_PROFILE} \
		--mtime-policy set --source-date-epoch "$rootnorm_stamp" --jobs ${ROOTNORM_JOBS} \
		${ROOTNORM_EXTRA_ARGS} ${IMAGE_ROOTFS}
}

rootnorm_rootfs[doc] = "Runs rootnorm on IMAGE_ROOTFS (a ROOTFS_POSTPROCESS_COMMAND, not a task)"
ROOTFS_POSTPROCESS_COMMAND += "rootnorm_rootfs;"
do_rootfs[depends] += "rootnorm-native:do_populate_sysroot"
do_rootfs[vardeps] += "ROOTNORM_PROFILE ROOTNORM_EXTRA_ARGS ROOTNORM_JOBS ROOTNORM_FOR_OSTREE"
