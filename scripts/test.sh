#!/bin/sh
# All tests, as root: unit and integration tests on the debug build
# (`cargo test`), then the integration tests again against the shipping
# binary, the static release build of scripts/build-release.sh (HUSK_BIN).
# Extra arguments go to both cargo test runs.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rc=0
cargo test "$@" || rc=1
bin=$(scripts/build-release.sh) || exit 1
echo "== integration tests against $bin"
HUSK_BIN="$bin" cargo test --test '*' "$@" || rc=1
exit $rc
