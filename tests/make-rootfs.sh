#!/bin/sh
# Usage: tests/make-rootfs.sh DIR
# A minimal busybox root file system from the busybox-static package, plus
# the static probe program: the embedded default that husk's tests run.
set -eu
dir=${1:?usage: make-rootfs.sh DIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "no static busybox at $busybox (apt-get install busybox-static)" >&2; exit 1; }
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/etc" "$tmp/tmp" "$tmp/root"
cp "$busybox" "$tmp/bin/busybox"
for applet in $("$tmp/bin/busybox" --list); do
    [ -e "$tmp/bin/$applet" ] || ln -s busybox "$tmp/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$tmp/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >> "$tmp/etc/passwd"
echo "root:x:0:" > "$tmp/etc/group"
echo "nogroup:x:65534:" >> "$tmp/etc/group"
chmod 1777 "$tmp/tmp"
if [ "${NO_PROBE:-}" != 1 ]; then
    "$(dirname "$0")/probe/build.sh" "$tmp/bin/probe"
fi
rm -rf "$dir"
mv "$tmp" "$dir"
