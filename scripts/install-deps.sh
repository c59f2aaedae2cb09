#!/bin/sh
# Debian packages husk's build and tests need: busybox-static (the embedded
# default rootfs), runc and crun (differential tests, benchmark), strace and
# GNU time (benchmark), libseccomp,
# and the container managers that tests/managers.rs drives husk with: podman
# (with conmon), containerd (ctr, the runc v2 shim) and docker.io. Their
# services are not started (tests start their own daemons); no
# recommended packages.
set -eu
need=""
for p in busybox-static runc crun libseccomp-dev pkg-config time strace gcc libc6-dev \
    podman conmon containerd docker.io; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Never let a package start its daemon (dockerd, containerd) on the host:
    # the tests start their own, with networking off.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
    [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

# The shipping build is static with musl (scripts/build-release.sh); it falls
# back to glibc where the target cannot be fetched.
target=$(uname -m)-unknown-linux-musl
if command -v rustup >/dev/null 2>&1 &&
    ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    timeout 600 rustup target add "$target" >/dev/null 2>&1 ||
        echo "install-deps: could not add the Rust target $target; release builds use glibc" >&2
fi
