#!/usr/bin/env bash
# The longer version of the Redis topology tests that scripts/test.sh runs once each: every
# topology's test ROUNDS times (default 5), the half-open link with a HOLE_SECS-long hole
# (default 60), and the recovery figures each round printed, one line per round.
#
#   scripts/redis-topologies.sh              # 5 rounds, 60 s hole: about 10 minutes
#   ROUNDS=20 HOLE_SECS=120 scripts/redis-topologies.sh
#
# Needs what scripts/test.sh needs (redis-server, redis-cli, openssl, node, the e2e/node
# packages, a built chat-demo); run from any directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}"
HOLE_SECS="${HOLE_SECS:-60}"
cargo build -q -p chat-demo
[ -d e2e/node/node_modules ] || npm ci --prefix e2e/node --silent

run() { # name, test file, env...
  local name="$1" file="$2"; shift 2
  for round in $(seq 1 "$ROUNDS"); do
    local out
    if ! out="$(cd e2e/node && env "$@" node --test "$file" 2>&1)"; then
      echo "$out" | tail -40
      echo "FAILED: $name, round $round" >&2
      exit 1
    fi
    echo "$name round $round: $(echo "$out" | grep -E '^# .*(again|detected)' | sed 's/^# //' | paste -sd ';' -)"
  done
}

run "TLS + ACL (3 instances)" redis-tls.test.mjs
run "Sentinel failover" redis-sentinel.test.mjs
run "Cluster failover" redis-cluster.test.mjs
run "half-open link, ${HOLE_SECS} s hole" half-open.test.mjs "BLACKHOLE_SECS=$HOLE_SECS"
echo "all rounds passed"
