// A guest flood against the demo with --allow-guests: how long an authenticated user's socket
// takes to authenticate (connect → `authenticated`, message mode) with no flood, then while
// thousands of guests are held from one address and from many (127.0.0.x), and whether its
// socket still gets in; with the pending and guest gauges the demo's /metrics reports.
//
//     node e2e/node/guest-flood.mjs --guests 3000 --users 200
//
// Prints one JSON object: for each phase, the users' latency p50/p95/max (ms), how many got in,
// and the guests/pending/refused counts; and, as the control, the same number of
// authenticated sockets held from many addresses instead of guests (what holding that many
// sockets costs the demo, guests or not: its presence broadcast goes through every socket). Not a CI step (a flood takes a minute); the README
// names it. CHAT_DEMO_BIN picks the binary (a release build for figures).
import { performance } from "node:perf_hooks";

import { io as ioClient } from "socket.io-client";

import { startDemo, testToken } from "./demo-server.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const GUESTS = arg("guests", 3000);
const USERS = arg("users", 200);
const SOURCES = arg("sources", 50); // addresses 127.0.0.2 .. for the flood "from many"
const WAIT = 10_000;

const percentile = (xs, p) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : null);

/** Opens a socket from `localAddress`; resolves with what became of it. */
function open(url, { localAddress, token } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const s = ioClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, localAddress });
    const timer = setTimeout(() => resolve({ s, outcome: "silent" }), WAIT);
    const done = (outcome) => (clearTimeout(timer), resolve({ s, outcome, ms: performance.now() - started }));
    s.once("connect_error", (e) => done(`refused:${e.message}`));
    s.once("unauthorized", (e) => done(`unauthorized:${e.code}`));
    s.once("authenticated", () => done("authenticated"));
    s.once("connect", () => {
      if (token) s.emit("authenticate", { token });
      else s.emit("whoami", (me) => done(me?.guest ? "guest" : "not-a-guest"));
    });
  });
}

/** `USERS` users authenticating from 127.0.0.1, a few at a time. */
async function users(url) {
  const ms = [];
  let inside = 0;
  const batch = 20;
  for (let i = 0; i < USERS; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, USERS - i) }, (_, j) => open(url, { localAddress: "127.0.0.1", token: testToken(`user-${i + j}`) })),
    );
    for (const { s, outcome, ms: t } of opened) {
      if (outcome === "authenticated") (inside++, ms.push(t));
      s.close();
    }
  }
  return { inside, of: USERS, p50: percentile(ms, 50), p95: percentile(ms, 95), max: Math.max(...ms) };
}

/** Holds `GUESTS` guests (or, `authenticated`, sockets with a token each), from one address or
 * spread over `SOURCES`; counts what each became. */
async function flood(url, spread, authenticated = false) {
  const held = [];
  const counts = {};
  const batch = 200;
  for (let i = 0; i < GUESTS; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, GUESTS - i) }, (_, j) =>
        open(url, {
          localAddress: spread ? `127.0.0.${2 + ((i + j) % SOURCES)}` : "127.0.0.250",
          token: authenticated ? testToken(`held-${i + j}`) : undefined,
        }),
      ),
    );
    for (const { s, outcome } of opened) {
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      held.push(s);
    }
  }
  return { held, counts };
}

async function gauges(url) {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const read = (state) => Number(text.match(new RegExp(`socketioxide_jwt_sockets\\{[^}]*state="${state}"[^}]*\\} (\\d+)`))?.[1] ?? 0);
  return { guests: read("guest"), pending: read("pending") };
}

const demo = await startDemo(["--allow-guests", "--metrics", "--auth-timeout-ms", "30000"]);
const report = { guests: GUESTS, users: USERS, sources: SOURCES };
try {
  report.quiet = await users(demo.url);
  for (const [name, spread, authenticated] of [
    ["one_address", false, false],
    ["many_addresses", true, false],
    ["control_authenticated_many_addresses", true, true],
  ]) {
    const { held, counts } = await flood(demo.url, spread, authenticated);
    const during = await users(demo.url);
    report[name] = { flood: counts, gauges: await gauges(demo.url), users: during };
    for (const s of held) s.close();
    await new Promise((r) => setTimeout(r, 500));
  }
} finally {
  await demo.stop();
}
console.log(JSON.stringify(report, null, 2));
