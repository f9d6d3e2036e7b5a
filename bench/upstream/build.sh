#!/usr/bin/env bash
# Builds the benchmark against socketioxide's own crates with the changes this project proposes
# upstream (the *.patch files here, against the crates.io sources of engineioxide 0.17.9,
# engineioxide-core 0.2.3, socketioxide-core 0.20.0 and socketioxide 0.18.9), for the extra rows "socketioxide +
# proposed patches":
#
#     bash bench/upstream/build.sh      # -> target/upstream/target/release/bench-server
#
# The patches are applied to copies of the crates.io sources in a copy of the workspace under
# target/upstream/ (its Cargo.lock is its own): the library, the demo and this workspace never
# use them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/target/upstream"
cd "$ROOT"
cargo fetch -q
src_of() { # the crates.io source directory of package $1 at version $2
  cargo metadata --format-version 1 --locked | python3 -c "
import json, sys, pathlib
for p in json.load(sys.stdin)['packages']:
    if p['name'] == '$1' and p['version'] == '$2':
        print(pathlib.Path(p['manifest_path']).parent)"
}
rm -rf "$OUT/src" "$OUT/ws"
mkdir -p "$OUT/src" "$OUT/ws"
for crate in "engineioxide 0.17.9" "engineioxide-core 0.2.3" "socketioxide-core 0.20.0" "socketioxide 0.18.9"; do
  set -- $crate
  cp -r "$(src_of "$1" "$2")" "$OUT/src/$1-$2"
done
for p in "$ROOT"/bench/upstream/*.patch; do
  patch -s -d "$OUT/src" -p1 < "$p"
done
# A copy of the workspace (sources only) whose Cargo.toml patches crates.io.
tar -C "$ROOT" --exclude=./target --exclude='*/node_modules' --exclude=./.git -cf - . | tar -C "$OUT/ws" -xf -
cat >> "$OUT/ws/Cargo.toml" <<TOML

[patch.crates-io]
engineioxide = { path = "$OUT/src/engineioxide-0.17.9" }
engineioxide-core = { path = "$OUT/src/engineioxide-core-0.2.3" }
socketioxide-core = { path = "$OUT/src/socketioxide-core-0.20.0" }
socketioxide = { path = "$OUT/src/socketioxide-0.18.9" }
TOML
cd "$OUT/ws"
CARGO_TARGET_DIR="$OUT/target" cargo build --release -q -p socketioxide-jwt-bench
echo "$OUT/target/release/bench-server"
