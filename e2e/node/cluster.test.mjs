// Three chat-demo processes on one Redis: broadcasts and revocations cross processes; pending
// sockets get nothing; revocations survive restarts; a Redis outage is survived.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { io } from "socket.io-client";

import { jtiAndExp, login, nextEvent, startDemo, startRedis, testToken, until } from "./demo-server.mjs";

const WAIT = 10_000;
/** An HS256 token for a demo user, made by the test (so it can pick `jti` and `iat`). */
const token = testToken;
const ARGS = (redis) => ["--redis", redis.url, "--auth-timeout-ms", "30000"];
let redis;
let nodes; // [A, B, C]
const sockets = [];

before(async () => {
  redis = await startRedis();
  nodes = await Promise.all([0, 1, 2].map(() => startDemo(ARGS(redis))));
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis.cleanup();
});

/** A stock socket.io-client socket recording what it receives. */
function open(url, opts = {}) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...opts });
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push({ event, args, at: performance.now() }));
  socket.on("connect_error", (e) => socket.received.push({ event: "connect_error", args: [e.message] }));
  socket.on("disconnect", (reason) => socket.received.push({ event: "disconnect", args: [reason] }));
  sockets.push(socket);
  return socket;
}
const next = (socket, event) => nextEvent(socket, event, WAIT);
async function authenticated(url, tok) {
  const s = open(url);
  await next(s, "connect");
  s.emit("authenticate", { token: tok });
  await next(s, "authenticated");
  return s;
}
let adminToken = null;
async function revoke(url, body) {
  adminToken ??= await login(nodes[0].url, "admin", "admin-password");
  const admin = adminToken;
  return fetch(`${url}/admin/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

test("a broadcast reaches every authenticated socket on every process and no pending one", async () => {
  const [A, B, C] = nodes;
  const alice = await authenticated(A.url, token("alice"));
  const bob = await authenticated(B.url, token("bob"));
  const admin = await authenticated(C.url, token("admin"));
  const pending = await Promise.all(
    [A, B, C].map(async (n) => {
      const s = open(n.url);
      await next(s, "connect");
      return s;
    }),
  );
  const heard = [alice, bob, admin].map((s) => next(s, "chat message"));
  alice.emit("chat message", { text: "one" });
  for (const msg of await Promise.all(heard)) assert.deepEqual(msg, { from: "alice", text: "one" });

  // Barrier: the pending sockets authenticate, then a second message. If "one" had reached them
  // it would have arrived before "two".
  await Promise.all(
    pending.map(async (s) => {
      s.emit("authenticate", { token: token("bob") });
      await next(s, "authenticated");
    }),
  );
  const second = pending.map((s) => next(s, "chat message"));
  alice.emit("chat message", { text: "two" });
  for (const msg of await Promise.all(second)) assert.equal(msg.text, "two");
  for (const s of pending) {
    const texts = s.received.filter((r) => r.event === "chat message").map((r) => r.args[0].text);
    assert.deepEqual(texts, ["two"], "a pending socket received a broadcast");
  }
});

test("revoking on A disconnects the holders on B and C within a bounded time", async () => {
  const [A, B, C] = nodes;
  const latencies = [];
  adminToken ??= await login(A.url, "admin", "admin-password"); // not inside the timings
  const bystander = await authenticated(B.url, token("alice"));
  for (let i = 0; i < 50; i++) {
    const jti = `revoke-me-${i}-${randomUUID()}`;
    const t = token("alice", { jti });
    const onB = await authenticated(B.url, t);
    const onC = await authenticated(C.url, t);
    const kicked = [onB, onC].map((s) => next(s, "unauthorized").then((err) => ({ err, at: performance.now() })));
    const start = performance.now();
    const res = await revoke(A.url, jtiAndExp(t));
    assert.equal(res.status, 200);
    for (const { err, at } of await Promise.all(kicked)) {
      assert.equal(err.code, "revoked");
      assert.equal(err.data.code, "revoked");
      latencies.push(at - start);
    }
    // Refused everywhere afterwards.
    for (const n of [A, B, C]) {
      const again = open(n.url);
      await next(again, "connect");
      again.emit("authenticate", { token: t });
      assert.equal((await next(again, "unauthorized")).code, "revoked");
    }
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(`revocation propagation over ${latencies.length} sockets: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
  assert.ok(p99 < 1000, `p99 ${p99} ms`);
  assert.ok(bystander.connected, "a socket with another token of the same user stayed");
  assert.ok(!bystander.received.some((r) => r.event === "unauthorized"));

  // A whole user: every socket of bob on B and C; alice untouched.
  const bobs = [await authenticated(B.url, token("bob", { iat: Math.floor(Date.now() / 1000) - 5 })), await authenticated(C.url, token("bob", { iat: Math.floor(Date.now() / 1000) - 5 }))];
  const kicked = bobs.map((s) => next(s, "unauthorized"));
  assert.equal((await revoke(A.url, { sub: "bob" })).status, 200);
  for (const err of await Promise.all(kicked)) assert.equal(err.code, "revoked");
  assert.ok(bystander.connected);
});

test("only an admin may revoke", async () => {
  const user = await login(nodes[0].url, "alice", "wonderland");
  const res = await fetch(`${nodes[0].url}/admin/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${user}`, "content-type": "application/json" },
    body: JSON.stringify({ sub: "bob" }),
  });
  assert.equal(res.status, 403);
});

test("revocations survive a server process restart", async () => {
  const jti = `restart-${randomUUID()}`;
  const t = token("alice", { jti });
  assert.equal((await revoke(nodes[0].url, jtiAndExp(t))).status, 200);
  await nodes[1].stop();
  nodes[1] = await startDemo(ARGS(redis));
  const s = open(nodes[1].url);
  await next(s, "connect");
  s.emit("authenticate", { token: t });
  assert.equal((await next(s, "unauthorized")).code, "revoked");
});

test("a Redis outage: instances keep serving with what they know, and recover when it returns", async () => {
  const [A, B] = nodes;
  const known = token("alice", { jti: `known-${randomUUID()}` });
  assert.equal((await revoke(A.url, jtiAndExp(known))).status, 200);
  const stayer = await authenticated(B.url, token("alice"));

  await redis.stop();
  // Logging in and authenticating still work; a known revocation is still enforced.
  const fresh = await login(A.url, "alice", "wonderland");
  const during = await authenticated(A.url, fresh);
  const refused = open(B.url);
  await next(refused, "connect");
  refused.emit("authenticate", { token: known });
  assert.equal((await next(refused, "unauthorized")).code, "revoked");
  // A new revocation applies here now and is queued for the others: the API says so.
  const res = await revoke(A.url, jtiAndExp(token("alice", { jti: `during-${randomUUID()}` })));
  assert.equal(res.status, 202);
  assert.equal((await res.json()).queued, true);
  assert.ok(stayer.connected && during.connected, "connected sockets stay");

  await redis.start();
  const jti = `after-${randomUUID()}`;
  const t = token("alice", { jti });
  const onB = await authenticated(B.url, t);
  const kicked = next(onB, "unauthorized");
  // Revoke on A until the store answers again, then it reaches B.
  await until(async () => (await revoke(A.url, jtiAndExp(t))).status === 200, "the store to answer again", 20_000);
  assert.equal((await kicked).code, "revoked");

  // Broadcasts across instances after the outage.
  // Not bob: a user revoked a moment ago (this file's revocation test) with `iat` ≤ that second.
  const listener = await authenticated(B.url, token("carol"));
  const speaker = await authenticated(A.url, token("alice"));
  const heard = next(listener, "chat message");
  speaker.emit("chat message", { text: "after the outage" });
  assert.equal((await heard).text, "after the outage");
});
