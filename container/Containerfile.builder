# The builder-stage pattern: build a root filesystem at /target-rootfs in a builder
# image, post-process it there with rootnorm, then COPY it into an image FROM scratch.
# rootnorm runs from the builder, so it never becomes part of the final image.
#
#   podman build -t localhost/my-bootc-from-scratch -f container/Containerfile.builder .
#
# bootc-base-imagectl ships in the Fedora / CentOS Stream / RHEL bootc base images
# ("Creating bootc images from scratch" in the RHEL image-mode documentation).
ARG BUILDER_IMAGE=quay.io/fedora/fedora-bootc:42
FROM ${BUILDER_IMAGE} AS builder
RUN /usr/libexec/bootc-base-imagectl build-rootfs --manifest=standard /target-rootfs
# Add your own content to /target-rootfs here (dnf --installroot=/target-rootfs ...).
# Then normalise it LAST, from the builder's own Python (not the target's):
RUN dnf -y install rootnorm && \
    PYTHONDONTWRITEBYTECODE=1 rootnorm --profile ostree /target-rootfs

FROM scratch
COPY --from=builder /target-rootfs/ /
LABEL containers.bootc=1
ENV container=oci
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
RUN bootc container lint
