#!/usr/bin/env bash
# The project's one test command, from a fresh clone: installs what the tests need, then runs
# formatting, lints and every test. Fails loudly on the first error.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v node >/dev/null || { echo "Node.js >= 18 is required for the end-to-end tests" >&2; exit 1; }

say "Installing the stock socket.io-client for the end-to-end tests (npm ci, pinned by the lockfile)"
npm ci --prefix e2e/node --no-audit --no-fund

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "cargo test (unit, doc and end-to-end tests)"
cargo test --workspace

say "Crypto backends: pure Rust only, and both enabled at once"
cargo test -p socketioxide-jwt --no-default-features --features rust-crypto --test backends
cargo test -p socketioxide-jwt --all-features --test backends

say "All tests passed"
