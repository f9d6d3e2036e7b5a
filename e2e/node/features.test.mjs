// The features no other Socket.IO auth library has, on three chat-demo processes sharing a
// throwaway redis-server: rooms granted by the token's claims (derived again on refresh, across
// processes), a cap on sockets per user counted across processes, and the expiry warning.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { io } from "socket.io-client";

import { adminRevoke, login, nextEvent, startDemo, startRedis, testToken, until } from "./demo-server.mjs";

const WAIT = 10_000;
const CAP = 2;
let redis;
let nodes; // [A, B, C]
const sockets = [];

before(async () => {
  redis = await startRedis();
  const args = ["--redis", redis.url, "--max-sockets-per-user", String(CAP), "--expiry-warning-secs", "1"];
  nodes = await Promise.all([0, 1, 2].map(() => startDemo(args)));
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis.cleanup();
});

function open(url) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push({ event, args }));
  sockets.push(socket);
  return socket;
}
const next = (socket, event) => nextEvent(socket, event, WAIT);
/** Connects and authenticates; resolves with the socket, or rejects with the refusal. */
async function authenticated(url, token) {
  const s = open(url);
  await next(s, "connect");
  const outcome = new Promise((resolve, reject) => {
    s.once("authenticated", () => resolve(s));
    s.once("unauthorized", (err) => reject(Object.assign(new Error(err.message), { code: err.code, socket: s })));
  });
  s.emit("authenticate", { token });
  return withTimeout(outcome, "authenticated or unauthorized");
}
function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT} ms`)), WAIT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
const chats = (s) => s.received.filter((m) => m.event === "chat message").map((m) => m.args[0]);
/** Sends a chat message and resolves with the server's ack. */
const say = (s, body) => withTimeout(s.emitWithAck("chat message", body), "the chat ack");
/** A message to everyone from `from`, awaited on each of `to`: what `from` sent before it has arrived. */
async function barrier(from, to) {
  const text = `barrier-${Math.random()}`;
  await say(from, { text });
  await Promise.all(to.map((s) => until(() => chats(s).some((m) => m.text === text), `barrier on ${s.id}`)));
}

test("a chat room reaches the members its tokens grant, on every process, and nobody else", async () => {
  const [A, B, C] = nodes;
  const alice = await authenticated(A.url, await login(A.url, "alice", "wonderland"));
  const bob = await authenticated(B.url, await login(B.url, "bob", "builder"));
  const admin = await authenticated(C.url, await login(C.url, "admin", "admin-password"));

  assert.deepEqual(await say(alice, { text: "tea?", room: "tea-party" }), { ok: true });
  await barrier(alice, [alice, bob, admin]);
  const inTea = (s) => chats(s).filter((m) => m.room === "tea-party");
  assert.deepEqual(inTea(admin), [{ from: "alice", text: "tea?", room: "tea-party" }], "admin (C) is in tea-party");
  assert.deepEqual(inTea(alice).length, 1, "so is its sender");
  assert.deepEqual(inTea(bob), [], "bob (B) is not");

  // Bob's token does not grant tea-party: refused, and nobody receives it.
  const refused = await say(bob, { text: "let me in", room: "tea-party" });
  assert.equal(refused.code, "forbidden");
  assert.match(refused.message, /tea-party/);
  await barrier(bob, [alice, bob, admin]);
  for (const s of [alice, bob, admin]) assert.ok(!chats(s).some((m) => m.text === "let me in"));
  for (const s of [alice, bob, admin]) s.close();
});

test("a refresh derives the rooms again: a room no longer granted is left, on any process", async () => {
  const [A, , C] = nodes;
  const dave = await authenticated(A.url, testToken("dave", { rooms: ["ops"] }));
  const erin = await authenticated(C.url, testToken("erin", { rooms: ["ops"] }));
  await say(dave, { text: "ops-1", room: "ops" });
  await until(() => chats(erin).some((m) => m.text === "ops-1"), "ops-1 at erin");

  const ack = await withTimeout(erin.emitWithAck("authenticate", { token: testToken("erin", { rooms: ["lobby"] }) }), "refresh ack");
  assert.deepEqual(ack, { ok: true });
  await say(dave, { text: "ops-2", room: "ops" });
  await barrier(dave, [dave, erin]);
  assert.ok(!chats(erin).some((m) => m.text === "ops-2"), "erin left ops with her refresh");
  assert.ok(chats(dave).some((m) => m.text === "ops-2"));
  dave.close();
  erin.close();
});

test(`a user holds at most ${CAP} sockets across the processes; a closed one frees its place`, async () => {
  const [A, B, C] = nodes;
  const token = testToken("frank");
  const first = await authenticated(A.url, token);
  await authenticated(B.url, token);
  const err = await authenticated(C.url, token).then(
    () => assert.fail("a third socket must be refused"),
    (e) => e,
  );
  assert.equal(err.code, "forbidden");
  assert.match(err.message, /at most 2/);
  await until(() => !err.socket.connected, "the refused socket disconnected");
  // Others are unaffected.
  await authenticated(C.url, testToken("grace"));

  first.close();
  // The place is given back asynchronously (a ZREM queued by process A): retry, bounded.
  let third = null;
  await until(async () => {
    third = await authenticated(C.url, token).catch(() => null);
    return third !== null;
  }, "a place freed on A to be taken on C");
  assert.ok(third.connected);
});

test("--expiry-warning-secs: token_expiring comes that long before exp", async () => {
  const [A] = nodes;
  const iat = Math.floor(Date.now() / 1000);
  const s = await authenticated(A.url, testToken("heidi", { iat, ttl: 4 }));
  const warning = await next(s, "token_expiring");
  assert.equal(warning.exp, iat + 4);
  assert.ok(warning.expires_in_ms > 0 && warning.expires_in_ms <= 1_000, `${warning.expires_in_ms} ms left`);
  assert.equal((await next(s, "unauthorized")).code, "token_expired");
});

test("many revocations at once are all stored in Redis and reach every process", async () => {
  // Each revocation is one Lua script (SET + PUBLISH): a MULTI/EXEC pipeline on the connection
  // that also receives the subscription's pushes failed to parse under concurrent revocations,
  // and most of them were only queued (202).
  const [A, , C] = nodes;
  const victims = await Promise.all([0, 1, 2].map((i) => authenticated(C.url, testToken(`burst-${i}`))));
  // One admin login for all 40 (the demo limits logins per address: a burst of 10).
  const admin = await login(A.url, "admin", "admin-password");
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => adminRevoke(A.url, { sub: `burst-${i}` }, admin)),
  );
  assert.deepEqual(answers.map((r) => r.status), answers.map(() => 200), "every revocation stored, none queued");
  for (const v of victims) {
    await until(() => v.received.some((m) => m.event === "unauthorized" && m.args[0].code === "revoked"), "the revoked socket on C");
  }
});

test("a Redis outage: each process counts its own sockets, nobody is refused for it, and the cap is shared again after", async () => {
  const [A, B, C] = nodes;
  await redis.stop();
  try {
    const token = testToken("ivan");
    const onA = [await authenticated(A.url, token), await authenticated(A.url, token)];
    const refused = await authenticated(A.url, token).then(
      () => assert.fail("this process's own count still applies"),
      (e) => e,
    );
    assert.equal(refused.code, "forbidden");
    // B cannot see A's places while Redis is down: it counts its own.
    const onB = await authenticated(B.url, token);
    for (const s of [...onA, onB]) s.close();
  } finally {
    await redis.start();
  }
  // Redis is back: a user's places are counted across the processes again.
  let attempt = 0;
  await until(async () => {
    const token = testToken(`judy-${attempt++}`);
    const held = [await authenticated(A.url, token), await authenticated(B.url, token)];
    const third = await authenticated(C.url, token).then(
      (s) => s,
      (e) => e,
    );
    for (const s of held) s.close();
    if (third.connected) third.close();
    return third.code === "forbidden";
  }, "the cap shared through Redis again", 20_000);
});
