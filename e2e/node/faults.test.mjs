// A cluster that survives faults, with real processes: three chat-demo instances on one
// redis-server that the test kills and restarts (outages of OUTAGE_SECS, default "2,10"), an
// instance killed with SIGKILL and restarted, and a Redis restart with its append-only file.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { io } from "socket.io-client";

import { DEMO_ISSUER, jtiAndExp, login, nextEvent, startDemo, startRedis, testToken } from "./demo-server.mjs";

const WAIT = 10_000;
/** Cross-instance broadcasts must resume within this long after Redis is back. */
const RECOVERY_BOUND_MS = 5_000;
const OUTAGES = (process.env.OUTAGE_SECS ?? "2,10").split(",").map(Number);

const token = (sub, opts = {}) => testToken(sub, { ttl: 900, ...opts });
const ARGS = (redis) => ["--redis", redis.url, "--auth-timeout-ms", "30000"];

const sockets = [];
after(() => sockets.forEach((s) => s.close()));
function open(url) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  sockets.push(socket);
  return socket;
}
const next = (socket, event, ms = WAIT) => nextEvent(socket, event, ms);
async function authenticated(url, tok) {
  const s = open(url);
  await next(s, "connect");
  s.emit("authenticate", { token: tok });
  await next(s, "authenticated");
  return s;
}
/** Resolves with the outcome of authenticating `tok` on a new socket: "authenticated" or the code. */
async function outcome(url, tok) {
  const s = open(url);
  await next(s, "connect");
  s.emit("authenticate", { token: tok });
  const result = await Promise.race([next(s, "authenticated").then(() => "authenticated"), next(s, "unauthorized").then((e) => e.code)]);
  s.close();
  return result;
}
// The demo's own iss: admin rights come from the tokens it issues (the secret is shared with the test).
let adminToken = token("admin", { iss: DEMO_ISSUER });
const revoke = (url, body) =>
  fetch(`${url}/admin/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT),
  });
/** Sends a chat message from `speaker` (with its ack) and resolves true if `listener` hears it within `ms`. */
async function heard(speaker, listener, text, ms) {
  const got = new Promise((resolve) => {
    const timer = setTimeout(() => {
      listener.off("chat message", on);
      resolve(false);
    }, ms);
    const on = (msg) => {
      if (msg.text !== text) return;
      clearTimeout(timer);
      listener.off("chat message", on);
      resolve(true);
    };
    listener.on("chat message", on);
  });
  speaker.emit("chat message", { text });
  return got;
}
/** Time until a message from `speaker` reaches `listener`, retrying every 200 ms; rejects after `ms`. */
async function timeToDelivery(speaker, listener, ms) {
  const start = performance.now();
  for (let i = 0; performance.now() - start < ms; i++) {
    if (await heard(speaker, listener, `probe-${i}-${randomUUID()}`, 200)) return performance.now() - start;
  }
  throw new Error(`no delivery within ${ms} ms`);
}

describe("Redis outages", () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = await Promise.all([0, 1].map(() => startDemo(ARGS(redis))));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.cleanup();
  });

  for (const secs of OUTAGES) {
    test(`a ${secs} s outage: local delivery, authentication and revocation keep working; the cluster recovers`, async () => {
      const [A, B] = nodes;
      const alice = await authenticated(A.url, token("alice"));
      const bobOnA = await authenticated(A.url, token("bob"));
      const bobOnB = await authenticated(B.url, token("bob"));
      const victimJti = `victim-${randomUUID()}`;
      const victim = token("alice", { jti: victimJti });
      const victimOnA = await authenticated(A.url, victim);
      const victimOnB = await authenticated(B.url, victim);
      assert.ok(await heard(alice, bobOnB, "before", WAIT), "cross-instance delivery before the outage");

      await redis.stop();
      const down = performance.now();
      // Same instance: delivered at once, whatever Redis does.
      assert.ok(await heard(alice, bobOnA, "during", 1_000), "a message on the same instance arrives within 1 s");
      // Logins and authentication go on.
      const fresh = await login(A.url, "alice", "wonderland");
      assert.equal(await outcome(A.url, fresh), "authenticated");
      // A revocation made now applies here at once...
      const kickedOnA = next(victimOnA, "unauthorized");
      const kickedOnB = next(victimOnB, "unauthorized", WAIT + secs * 1000 + RECOVERY_BOUND_MS);
      const res = await revoke(A.url, jtiAndExp(victim));
      assert.equal(res.status, 202, "accepted: applied here, queued for the others");
      assert.equal((await kickedOnA).code, "revoked");
      assert.equal(await outcome(A.url, token("alice", { jti: victimJti })), "revoked");

      const left = secs * 1000 - (performance.now() - down);
      if (left > 0) await new Promise((r) => setTimeout(r, left)); // the outage's length itself
      await redis.start();
      const restarted = performance.now();
      const recovery = await timeToDelivery(alice, bobOnB, RECOVERY_BOUND_MS);
      // ...and reaches the other instances when Redis is back.
      assert.equal((await kickedOnB).code, "revoked");
      const revocationArrived = performance.now() - restarted;
      assert.ok(revocationArrived < RECOVERY_BOUND_MS, `the queued revocation arrived ${revocationArrived} ms after Redis restarted`);
      assert.equal(await outcome(B.url, token("alice", { jti: victimJti })), "revoked");
      console.log(
        `outage ${secs} s: cross-instance delivery resumed ${recovery.toFixed(0)} ms, the queued revocation arrived ` +
          `${revocationArrived.toFixed(0)} ms after Redis restarted`,
      );
      assert.ok(await heard(bobOnB, alice, "back the other way", WAIT));
      for (const s of [alice, bobOnA, bobOnB]) assert.ok(s.connected);
    });
  }
});

describe("a killed instance", () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = await Promise.all([0, 1, 2].map(() => startDemo(ARGS(redis))));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.cleanup();
  });

  test("SIGKILL: the others broadcast, list rooms and revoke without waiting; restarted, it knows every revocation", async () => {
    const [A, B, C] = nodes;
    const onC = await authenticated(C.url, token("carol"));
    const alice = await authenticated(A.url, token("alice"));
    const bob = await authenticated(B.url, token("bob"));
    assert.ok(onC.connected);
    await C.kill("SIGKILL");

    // Broadcasts between the survivors: no delay.
    const start = performance.now();
    assert.ok(await heard(alice, bob, "after the crash", 1_000));
    // Presence (io.rooms() across the cluster) must not wait on the dead node's answer.
    const presence = next(bob, "presence", 3_000);
    await authenticated(A.url, token("dave"));
    assert.ok((await presence).users.includes("dave"));
    console.log(`killed instance: broadcast and presence in ${(performance.now() - start).toFixed(0)} ms`);
    // A revocation while C is down reaches B at once...
    const jti = `while-down-${randomUUID()}`;
    const erin = token("erin", { jti });
    const holder = await authenticated(B.url, erin);
    const kicked = next(holder, "unauthorized", 2_000);
    assert.equal((await revoke(A.url, jtiAndExp(erin))).status, 200);
    assert.equal((await kicked).code, "revoked");
    // ...and C, restarted, refuses that token from its first connection.
    nodes[2] = await startDemo(ARGS(redis));
    assert.equal(await outcome(nodes[2].url, erin), "revoked");
    assert.ok(await heard(alice, await authenticated(nodes[2].url, token("frank")), "to the restarted one", WAIT));
  });
});

test("a Redis restart with its append-only file keeps every revocation; broadcasts resume", async () => {
  const redis = await startRedis();
  const nodes = await Promise.all([0, 1].map(() => startDemo(ARGS(redis))));
  let late = null;
  try {
    const [A, B] = nodes;
    const revoked = token("alice", { jti: `aof-${randomUUID()}` });
    assert.equal((await revoke(A.url, jtiAndExp(revoked))).status, 200);
    const alice = await authenticated(A.url, token("alice"));
    const bob = await authenticated(B.url, token("bob"));
    await redis.stop();
    await redis.start();
    const restarted = performance.now();
    const recovery = await timeToDelivery(alice, bob, RECOVERY_BOUND_MS);
    // An instance started after the restart loads the revocation from the append-only file.
    late = await startDemo(ARGS(redis));
    assert.equal(await outcome(late.url, revoked), "revoked");
    assert.equal(await outcome(late.url, token("alice")), "authenticated");
    console.log(`Redis restart (AOF): cross-instance delivery resumed ${recovery.toFixed(0)} ms after; ` +
      `a new instance refused the revoked token ${(performance.now() - restarted).toFixed(0)} ms after`);
  } finally {
    await Promise.all([...nodes, ...(late ? [late] : [])].map((n) => n.stop()));
    await redis.cleanup();
  }
});
