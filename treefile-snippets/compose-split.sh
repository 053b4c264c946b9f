#!/bin/sh
# The split rpm-ostree compose flow with rootnorm run from the host:
#   rpm-ostree compose install -> rootnorm -> rpm-ostree compose postprocess
#   -> rpm-ostree compose commit
#
# Usage: compose-split.sh MANIFEST REPO [WORKDIR]
#   MANIFEST  your treefile (it need not include rootnorm.yaml)
#   REPO      the ostree repository to commit into
#   WORKDIR   scratch directory (default: a new one under /var/tmp); the tree is WORKDIR/rootfs
#
# rootnorm runs after `compose install`, which has already run your treefile's own
# postprocess scripts, so nothing changes Python files after it. rootnorm comes from the
# host here (pip install rootnorm, or the RPM), not from the target image.
set -eu
manifest=$1
repo=$2
workdir=${3:-$(mktemp -d /var/tmp/rootnorm-compose.XXXXXX)}
cachedir=${ROOTNORM_COMPOSE_CACHEDIR:-$workdir/cache}
mkdir -p "$cachedir"

rpm-ostree compose install --unified-core --cachedir="$cachedir" --repo="$repo" \
    "$manifest" "$workdir"
# With --unified-core the files are hard links into the package cache; rootnorm puts
# changed content in new inodes and never edits a shared inode's bytes in place.
PYTHONDONTWRITEBYTECODE=1 rootnorm --profile ostree "$workdir/rootfs"
rpm-ostree compose postprocess --unified-core "$workdir/rootfs" "$manifest"
rpm-ostree compose commit --repo="$repo" "$manifest" "$workdir/rootfs"
