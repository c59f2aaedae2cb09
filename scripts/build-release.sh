#!/bin/sh
# Build the release husk and print the binary's path.
#
# The shipping build is static: x86_64-unknown-linux-musl, libseccomp linked
# in, no dynamic loader, no libraries at run time (smaller RSS, faster start;
# see bench/RESULTS.md). Where that Rust target cannot be installed
# (`rustup target add x86_64-unknown-linux-musl`), it falls back to the
# glibc build, which needs only libc.so, and says so on stderr.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
target=$(uname -m)-unknown-linux-musl
out=${CARGO_TARGET_DIR:-$top/target}
cd "$top"
if rustc --print sysroot >/dev/null 2>&1 &&
    [ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]; then
    cargo build --release -q --target "$target"
    echo "$out/$target/release/husk"
else
    echo "build-release: the Rust target $target is not installed; building against glibc instead" >&2
    cargo build --release -q
    echo "$out/release/husk"
fi
