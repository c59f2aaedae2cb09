#!/bin/sh
# Debian packages husk's build and tests need: busybox-static (the embedded
# default rootfs), runc and crun (differential tests, benchmark), libseccomp.
set -eu
need=""
for p in busybox-static runc crun libseccomp-dev pkg-config time gcc libc6-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $need >/dev/null
fi
