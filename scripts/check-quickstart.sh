#!/usr/bin/env bash
# Builds the README's quick start as a newcomer would: a new cargo project outside the workspace,
# the README's `cargo add` lines run as written (socketioxide-jwt from this checkout instead of
# git: this machine reaches no git host), its `src/main.rs` pasted from between the README's
# quickstart markers; then runs it and drives it with the stock socket.io-client (a token signed
# with the secret: `authenticate`, `whoami`), and checks what it prints.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

cd "$WORK"
cargo new --quiet --vcs none quickstart
cd quickstart
# The workspace's lock: the same versions as every other build here (cargo drops what is unused).
cp "$ROOT/Cargo.lock" .
install_lines="$(sed -n '/^## Install/,/^## /p' "$ROOT/README.md" | sed -n '/^```sh$/,/^```$/p' | grep '^cargo add')"
[ "$(echo "$install_lines" | wc -l)" -ge 2 ] || { echo "README: expected 'cargo add' lines under Install" >&2; exit 1; }
echo "$install_lines" | head -1 | grep -q -- '--git https://github.com/socketioxide-jwt/socketioxide-jwt$' \
  || { echo "README: the first install line is not the git form" >&2; exit 1; }
cargo add --quiet socketioxide-jwt --path "$ROOT/crates/socketioxide-jwt"
# The other lines as written.
while read -r line; do eval "$line --quiet"; done < <(echo "$install_lines" | tail -n +2)
sed -n '/<!-- quickstart:begin -->/,/<!-- quickstart:end -->/p' "$ROOT/README.md" \
  | sed '1,2d;$d' | sed '$d' > src/main.rs
grep -q '^async fn main' src/main.rs || { echo "README: no quick start program between the markers" >&2; exit 1; }
CARGO_TARGET_DIR="$ROOT/target/quickstart" cargo build --quiet

SECRET="a-quick-start-secret-of-32-bytes!"
JWT_SECRET="$SECRET" "$ROOT/target/quickstart/debug/quickstart" > out.log 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q 'listening on' out.log && break; sleep 0.1; done
grep -qx 'listening on http://127.0.0.1:3001' out.log || { echo "the quick start printed:" >&2; cat out.log >&2; exit 1; }
cd "$ROOT/e2e/node"
SECRET="$SECRET" node --input-type=module -e '
import { createHmac } from "node:crypto";
import { io } from "socket.io-client";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "quick", exp: Math.floor(Date.now() / 1000) + 60 })}`;
const token = `${body}.${createHmac("sha256", process.env.SECRET).update(body).digest("base64url")}`;
const socket = io("http://127.0.0.1:3001", { transports: ["websocket"], reconnection: false });
const timer = setTimeout(() => { console.error("no answer in 10 s"); process.exit(1); }, 10000);
socket.on("connect", () => socket.emit("authenticate", { token }));
socket.on("unauthorized", (e) => { console.error("unauthorized", e); process.exit(1); });
socket.on("authenticated", () => socket.emit("whoami", (me) => {
  if (me.sub !== "quick") { console.error("whoami:", me); process.exit(1); }
  console.log("quick start: built outside the workspace, authenticated, whoami answered", me.sub);
  clearTimeout(timer); socket.close();
}));
'
