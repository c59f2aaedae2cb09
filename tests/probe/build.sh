#!/bin/sh
# Usage: tests/probe/build.sh OUTPUT
# Builds the static probe binary used by husk's integration tests.
set -eu
out=${1:?usage: build.sh OUTPUT}
src=$(dirname "$0")/probe.c
cc=${CC:-cc}
tmp="$out.tmp.$$"
"$cc" -static -O2 -Wall -Wextra -o "$tmp" "$src"
mv -f "$tmp" "$out"
