#!/usr/bin/env bash
# Runs the demo from a fresh clone: installs and builds the JS client the page loads (with
# socket.io-client from npm), then starts chat-demo. Extra arguments go to chat-demo
# (`./scripts/demo.sh --help`, `./scripts/demo.sh --mode handshake`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "Node.js >= 18 is required to build the page's JS client" >&2; exit 1; }
if [ ! -f clients/js/dist/index.js ] || [ ! -d clients/js/node_modules/socket.io-client ]; then
  npm ci --prefix clients/js --no-audit --no-fund
  npm run --prefix clients/js build
fi
exec cargo run -p chat-demo -- "$@"
