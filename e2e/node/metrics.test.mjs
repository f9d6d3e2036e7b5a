// Operators' view: real sockets (good, bad signature, expired, silent until the timeout, refused
// by the pending cap, refreshed, revoked), then `GET /metrics` scraped over HTTP shows each count
// and the gauges exactly.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { io } from "socket.io-client";

import { DEMO_ISSUER, jtiAndExp, nextEvent, startDemo, startRedis, testToken, until } from "./demo-server.mjs";
import { startProvider } from "./oidc-provider.mjs";

const WAIT = 10_000;
const token = testToken;
const sockets = [];
after(() => sockets.forEach((s) => s.close()));
function open(url) {
  const s = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  sockets.push(s);
  return s;
}
const next = (s, event) => nextEvent(s, event, WAIT);

/** The samples of `/metrics`: `name{labels} value` lines, as a map from the line's key. */
async function scrape(url) {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/plain/);
  const text = await res.text();
  const samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { text, samples };
}
const auth = (outcome, mode = "message") =>
  `socketioxide_jwt_authentications_total{outcome="${outcome}",mode="${mode}",namespace="/"}`;
const gauge = (state) => `socketioxide_jwt_sockets{state="${state}",namespace="/"}`;

test("every decision is counted, the gauges are exact, and no token, sub or IP appears", async () => {
  const demo = await startDemo(["--metrics", "--auth-timeout-ms", "1500", "--max-pending", "2"]);
  try {
    const good = token("alice");
    const forged = token("mallory", { key: "not-the-server-secret-0123456789abcdef" });
    const expired = token("old", { ttl: -100 });
    const authenticate = async (tok) => {
      const s = open(demo.url);
      await next(s, "connect");
      s.emit("authenticate", { token: tok });
      return s;
    };
    const alice = await authenticate(good);
    await next(alice, "authenticated");
    const bob = await authenticate(token("bob"));
    await next(bob, "authenticated");
    for (const bad of [forged, expired]) await next(await authenticate(bad), "unauthorized");
    // Refresh in-band.
    alice.emit("authenticate", { token: token("alice") });
    await next(alice, "authenticated");
    // Two silent sockets fill the pending cap; a third is refused with server_busy.
    const silent = [open(demo.url), open(demo.url)];
    await Promise.all(silent.map((s) => next(s, "connect")));
    let { samples } = await scrape(demo.url);
    assert.equal(samples.get(gauge("pending")), 2);
    assert.equal(samples.get(gauge("authenticated")), 2);
    const busy = open(demo.url);
    assert.equal((await next(busy, "connect_error")).message, "server_busy");
    // The silent ones time out.
    await Promise.all(silent.map((s) => next(s, "unauthorized")));
    // Bob leaves.
    bob.close();
    await until(async () => (await scrape(demo.url)).samples.get(gauge("authenticated")) === 1, "bob to leave the gauge");

    ({ samples } = await scrape(demo.url));
    const expected = {
      [auth("authenticated")]: 2,
      [auth("refreshed")]: 1,
      [auth("invalid_token")]: 1,
      [auth("token_expired")]: 1,
      [auth("timeout")]: 2,
      [auth("server_busy")]: 1,
      [gauge("pending")]: 0,
      [gauge("authenticated")]: 1,
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(samples.get(key), value, key);
    // Every verification was timed: 2 good, 1 refresh, 2 bad.
    assert.equal(samples.get("socketioxide_jwt_verify_seconds_count"), 5);
    const { text } = await scrape(demo.url);
    for (const secret of [good, forged, "alice", "mallory", "127.0.0.1"]) assert.ok(!text.includes(secret), `${secret} in /metrics`);
  } finally {
    await demo.stop();
  }
});

test("revocations are counted by kind", async () => {
  const demo = await startDemo(["--metrics"]);
  try {
    const admin = token("admin", { role: "admin", iss: DEMO_ISSUER });
    const revoke = (body) =>
      fetch(`${demo.url}/admin/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const holder = open(demo.url);
    await next(holder, "connect");
    const carol = token("carol", { jti: randomUUID() });
    holder.emit("authenticate", { token: carol });
    await next(holder, "authenticated");
    // Listened for before the revocation: the socket may hear it before fetch resolves.
    const refused = next(holder, "unauthorized");
    assert.equal((await revoke(jtiAndExp(carol))).status, 200);
    assert.equal((await refused).code, "revoked");
    assert.equal((await revoke({ sub: "dave" })).status, 200);
    const { samples } = await scrape(demo.url);
    assert.equal(samples.get('socketioxide_jwt_revocations_total{kind="token",origin="local"}'), 1);
    assert.equal(samples.get('socketioxide_jwt_revocations_total{kind="user",origin="local"}'), 1);
    assert.equal(samples.get(auth("revoked")), 1);
  } finally {
    await demo.stop();
  }
});

test("remote revocations are the other instances' only: an instance's own, heard back through Redis, is not counted again", async () => {
  const redis = await startRedis();
  const [a, b] = [await startDemo(["--metrics", ...redis.demoArgs()]), await startDemo(["--metrics", ...redis.demoArgs()])];
  try {
    const admin = token("admin", { role: "admin", iss: DEMO_ISSUER });
    const revoke = (demo, body) =>
      fetch(`${demo.url}/admin/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const count = async (demo, kind, origin) =>
      (await scrape(demo.url)).samples.get(`socketioxide_jwt_revocations_total{kind="${kind}",origin="${origin}"}`) ?? 0;
    // A revokes three; then B one: once A heard B's, it has read the log past its own three.
    assert.equal((await revoke(a, jtiAndExp(token("carol")))).status, 200);
    assert.equal((await revoke(a, { sub: "dave" })).status, 200);
    assert.equal((await revoke(a, { sid: "login-1" })).status, 200);
    await until(async () => (await count(b, "session", "remote")) === 1, "B hears A's revocations");
    assert.equal((await revoke(b, { sub: "erin" })).status, 200);
    await until(async () => (await count(a, "user", "remote")) === 1, "A hears B's revocation");
    for (const kind of ["token", "user", "session"]) {
      assert.equal(await count(a, kind, "local"), 1, `A made one ${kind} revocation`);
      assert.equal(await count(b, kind, "remote"), 1, `B heard A's ${kind} revocation once`);
    }
    assert.equal(await count(a, "token", "remote"), 0, "A's own token revocation, heard back, counted as remote");
    assert.equal(await count(a, "session", "remote"), 0, "A's own session revocation, heard back, counted as remote");
    assert.equal(await count(a, "user", "remote"), 1, "only B's user revocation is remote on A");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await redis.cleanup();
  }
});

test("the key fetches of OIDC discovery at start-up are counted", async () => {
  const provider = await startProvider();
  const demo = await startDemo(["--metrics", "--oidc-issuer", provider.issuer, "--audience", "chat"]);
  try {
    const { samples } = await scrape(demo.url);
    assert.ok(samples.get('socketioxide_jwt_jwks_fetches_total{result="ok"}') >= 1, "the start-up fetch is missing");
  } finally {
    await demo.stop();
    await provider.close();
  }
});

test("without --metrics there is no /metrics", async () => {
  const demo = await startDemo();
  try {
    assert.equal((await fetch(`${demo.url}/metrics`)).status, 404);
  } finally {
    await demo.stop();
  }
});
