#!/bin/sh
# Set up and run the hello-world container of the talk on a busybox bundle:
# install the packages, build husk (static, scripts/build-release.sh), make the bundle, `husk spec`, edit the
# args, `husk run hello`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
husk=$("$top/scripts/build-release.sh")
bundle=${BUNDLE:-/tmp/husk-hello}
rm -rf "$bundle"
mkdir -p "$bundle"
NO_PROBE=1 "$top/tests/make-rootfs.sh" "$bundle/rootfs"
cd "$bundle"
"$husk" spec
# Not interactive: no terminal; the talk's greeting as the program.
sed -i 's/"terminal": true/"terminal": false/; s/^\(\t\t\t\)"sh"$/\1"sh", "-c", "echo Hallo Augsburg"/' config.json
"$husk" run hello
