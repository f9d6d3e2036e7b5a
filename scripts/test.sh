#!/usr/bin/env bash
# The project's one test command, from a fresh clone: installs what the tests need, then runs
# formatting, lints and every test (Rust, the JS client, the browser). Fails loudly at the first
# error.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v node >/dev/null || { echo "Node.js >= 18 is required for the JS client and end-to-end tests" >&2; exit 1; }

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  say "Installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing at $CHROMIUM: install it (apt-get install chromium) or set CHROMIUM_PATH" >&2
    exit 1
  fi
fi

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  say "Installing nginx for the reverse-proxy test"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
  else
    echo "nginx is missing: install it (apt-get install nginx-light)" >&2
    exit 1
  fi
fi

if ! command -v redis-server >/dev/null; then
  say "Installing redis-server for the multi-process tests"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: install it (apt-get install redis-server)" >&2
    exit 1
  fi
fi

say "npm ci: stock socket.io-client + playwright-core (e2e/node), the JS client (clients/js)"
npm ci --prefix e2e/node --no-audit --no-fund
npm ci --prefix clients/js --no-audit --no-fund

say "Building the JS client (TypeScript)"
npm run --prefix clients/js build

say "Every relative link in the Markdown files leads to something that exists"
node scripts/check-doc-links.mjs

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy -D warnings (and rustdoc warnings)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p socketioxide-jwt --all-features --all-targets -- -D warnings
# Alone, with its default features: what an application that adds the crate compiles.
cargo clippy -p socketioxide-jwt --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p socketioxide-jwt --all-features -p socketioxide-jwt-redis \
  -p socketioxide-jwt-client -p socketioxide-jwt-protocol

say "cargo build (the demo binaries the JS and browser tests start)"
# One built without the JS client (the page must say so), kept aside; then the real one.
CHAT_DEMO_JS_CLIENT="$(mktemp -d)" cargo build -p chat-demo
cp target/debug/chat-demo target/chat-demo-without-js-client
cargo build -p chat-demo
# The migration example as a user builds it: alone, with no feature another package turns on.
cargo build -p socketioxide-jwt --example migrate_from_node
cp target/debug/examples/migrate_from_node target/migrate_from_node-alone

say "cargo test (unit, doc and end-to-end tests)"
cargo test --workspace

say "Fuzz corpus replay (feature fuzzing, on stable)"
cargo test -p socketioxide-jwt --features fuzzing --test fuzz_corpus

say "Crypto backends: pure Rust only, and both enabled at once"
cargo test -p socketioxide-jwt --no-default-features --features rust-crypto --test backends
cargo test -p socketioxide-jwt --all-features --test backends

if cargo +nightly --version >/dev/null 2>&1; then
  say "Fuzzing: each libFuzzer target for ${FUZZ_SECONDS:-30} s from the seed corpus (nightly)"
  command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
  for target in authenticate_payload handshake verify_token ssf_set; do
    work="$(mktemp -d)"
    cp fuzz/corpus/"$target"/* "$work"/
    (cd fuzz && cargo +nightly fuzz run "$target" "$work" -- -max_total_time="${FUZZ_SECONDS:-30}" 2>&1 | tail -n 2)
    rm -rf "$work"
  done
else
  say "Fuzzing skipped: no nightly toolchain (the seed corpus and property tests ran with cargo test)"
fi

say "Ready to publish: cargo publish --dry-run (the four crates, each against the others as packaged), npm pack --dry-run (clients/js)"
# The Redis crate is verified against the core as packaged now, through a registry cargo makes
# in target/package. Registry crates are immutable to cargo: it reuses an earlier run's
# extraction of that same version, and its build in target/debug. Both are leftovers (the
# version is not on crates.io yet) and are removed, so the core packaged now is the one used.
for crate in socketioxide-jwt socketioxide-jwt-protocol; do
  lib="${crate//-/_}"
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate"-0.1.0
  for dep in $(grep -l "registry/src/[^/]*/$crate-0.1.0/" target/debug/deps/"$lib"-*.d 2>/dev/null); do
    hash="${dep##*-}"
    hash="${hash%.d}"
    rm -rf target/debug/deps/*"$lib"-"$hash"* target/debug/.fingerprint/"$crate"-"$hash"
  done
done
cargo publish --dry-run --allow-dirty -p socketioxide-jwt-protocol -p socketioxide-jwt \
  -p socketioxide-jwt-redis -p socketioxide-jwt-client
node scripts/check-npm-package.mjs

say "The README's install lines and quick start, as pasted, in a new cargo project outside the workspace: built, run, driven by socket.io-client"
scripts/check-quickstart.sh

say "The migration example serves what the guide promises: socket.io-client 1.7.4 and 2.5.0, and an AngularJS page loading the client with a <script> tag (Chromium)"
(cd e2e/node && MIGRATE_EXAMPLE_BIN="$PWD/../../target/migrate_from_node-alone" node --test migrate-example.test.mjs)

say "JS client: unit tests and tests against the real demo server"
(cd clients/js && node --test test/*.test.mjs)

say "The demo as a user meets it: identity rule, instances sharing a data directory, logs"
(cd e2e/node && node --test demo.test.mjs)

say "Instances on one fresh data directory start together: 2-5 at once, 10 rounds (the README names the 50-round version)"
node e2e/node/data-dir-race.mjs --rounds 10

say "Hostile tokens: every exp / nbf / iat JSON can hold, another API's aud, a key fetch redirected off https"
(cd e2e/node && node --test hostile.test.mjs)

say "Two OpenID providers on loopback with the same kid and different keys, two instances on Redis (both modes): each one's tokens work beside the demo's own login; A-signed claiming B refused; 42 of A revoked leaves 42 of B; back-channel logout by sid and by sub across instances, replays refused"
(cd e2e/node && node --test issuers.test.mjs)

say "OpenID Shared Signals: a transmitter pushes and is polled; CAEP and RISC events close or refresh the right sockets on two instances on Redis within 1 s; bad SETs get the RFC's errors"
(cd e2e/node && node --test ssf.test.mjs)

say "Admins and long-lived revocations: a provider's (or a shared secret's) token claiming the admin role gets 403 on /admin/* unless its issuer is named with --admin-issuer; a token revoked by { jti, exp } stays refused after --token-ttl-secs, alone and across instances on Redis"
(cd e2e/node && node --test admin.test.mjs)

say "The clients socketio-jwt users run: socket.io-client 2.x and 1.x (Engine.IO v3), socket.io-msgpack-parser"
(cd e2e/node && node --test old-clients.test.mjs)

say "Parity with socketio-jwt / socketio-auth: HMAC secrets rotated without a kid (--secret repeated), both modes; --token-cookie (set, cleared, read on handshakes and REST, refused from another origin); --identity-claim; --allow-guests in both modes and across two processes on Redis; room tokens (expiry, revocation across two processes); ordered refreshes; --credential-source"
(cd e2e/node && node --test parity.test.mjs)

say "Floods: one address's silent sockets hold only its share of the pending places"
(cd e2e/node && node --test flood.test.mjs)

say "Metrics: /metrics scraped after real sockets (every outcome, exact gauges)"
(cd e2e/node && node --test metrics.test.mjs)

say "Several instances: 3 chat-demo processes on a throwaway redis-server"
(cd e2e/node && node --test cluster.test.mjs)

say "Redis as managed services run it: TLS only, client certificates, an ACL user; 3 chat-demo processes, and the errors of a wrong password, certificate or scheme"
(cd e2e/node && node --test redis-tls.test.mjs)

say "Redis behind Sentinel: a master, a replica, 3 Sentinels; the master SIGKILLed mid-run, broadcasts, revocations and the cap resume on the promoted replica; then the same over TLS only (Sentinels included) with client certificates"
(cd e2e/node && node --test redis-sentinel.test.mjs)

say "A Redis Cluster of 3 masters: 3 chat-demo processes over sharded pub/sub; broadcasts, revocations (stored under one hash tag, loaded by a 4th instance) and the cap"
(cd e2e/node && node --test redis-cluster.test.mjs)

say "A revocation, once accepted, reaches every instance: a Cluster reshard of the revocation log's and the broadcast channels' slots mid-run; a user revoked in an outage, her token refreshed elsewhere meanwhile, refused once Redis is back; a Sentinel failover while revocations are written"
(cd e2e/node && node --test revocation-guarantees.test.mjs)

say "A half-open Redis link (a proxy that stops forwarding for 10 s, closing nothing): found by the heartbeat, recovered from, nothing delivered twice"
(cd e2e/node && node --test half-open.test.mjs)

say "A revocation Redis always refuses is set aside: the ones after it reach the other instances (ACL on a throwaway redis-server)"
(cd e2e/node && node --test revocation-poison.test.mjs)

say "Rooms granted by claims, the sockets-per-user cap and the expiry warning: 3 chat-demo processes on a throwaway redis-server"
(cd e2e/node && node --test features.test.mjs)

say "Behind nginx (Debian's, started by the test): two instances on Redis, WebSocket and sticky long-polling (round-robin polling fails, as documented), TLS at nginx, --trusted-proxy: one abusive client does not lock out another, nginx's read timeout does not cut an idle socket"
(cd e2e/node && node --test proxy.test.mjs)

say "Faults: Redis outages of 2 and 10 s, an instance killed with SIGKILL, a Redis restart with AOF"
(cd e2e/node && OUTAGE_SECS=2,10 node --test faults.test.mjs)

say "Storm smoke test: 1000 sockets per server kind, none may be lost (bench/run.py)"
python3 bench/run.py --sockets 1000 --concurrency 100 --hold 1 --runs 1 --check

say "Reconnect storm smoke test: 2000 sockets per server (Node too) from 2 load generators, dropped and reconnected at once; none may be lost (bench/capacity.py)"
python3 bench/capacity.py --sockets 2000 --concurrency 200 --hold 1 --runs 1 --storm --check

say "Scaling smoke test: the curve's script at 1000 sockets (bare, both modes, Node + socketio-jwt), none may be lost (bench/scaling.py)"
python3 bench/scaling.py --sizes 1000 --runs 1 --check --no-plot

say "Cluster smoke test: 3000 sockets on 3 instances + redis-server; a broadcast reaches all, 100 users revoked, a storm; none lost (bench/cluster.py)"
python3 bench/cluster.py --sockets 3000 --instances 3 --revoke 100 --storm --check

say "Soak, short version: 1000 sockets for 60 s, refresh every 10 s, 1 %/s reconnecting (bench/soak.py)"
python3 bench/soak.py --sockets 1000 --secs 60 --refresh 10

say "Browser tests: the demo page in headless Chromium"
(cd e2e/node && node --test browser.test.mjs)

say "All tests passed"
