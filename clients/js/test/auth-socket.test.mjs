// Unit tests of the AuthSocket state machine against a fake socket.
import { test } from "node:test";
import assert from "node:assert/strict";

import { AuthError, AuthSocket } from "../dist/index.js";
import { fakeIo, flush } from "./fake-io.mjs";

function setup(extra = {}) {
  const { io, created } = fakeIo();
  const requests = [];
  let n = 0;
  const auth = new AuthSocket({
    url: "http://server/",
    io,
    getToken: (req) => {
      requests.push(req.reason);
      n += 1;
      return `token-${n}`;
    },
    ...extra,
  });
  return { auth, created, requests };
}

/** A server's refusal of a handshake as socket.io-client gives it: an Error with `data`. */
const handshakeRefusal = (code) => Object.assign(new Error(code), { data: undefined });

test("connects only when asked", () => {
  const { auth, created } = setup();
  assert.equal(created.length, 0);
  assert.equal(auth.state, "idle");
  assert.throws(() => auth.socket, /connect\(\) first/);
  auth.connect();
  assert.equal(created.length, 1);
  assert.equal(auth.state, "connecting");
});

test("message mode: authenticates on every connect and reconnect", async () => {
  const { auth, created, requests } = setup();
  auth.connect();
  const socket = created[0];
  socket.serverConnect();
  await flush();
  assert.deepEqual(socket.sent.at(-1), { event: "authenticate", args: [{ token: "token-1" }] });
  assert.equal(auth.state, "authenticating");
  socket.fire("authenticated", { sub: "alice", exp: 9e9 });
  assert.equal(auth.state, "authenticated");

  socket.serverDrop();
  assert.equal(auth.state, "connecting");
  socket.serverConnect();
  await flush();
  assert.deepEqual(socket.sent.at(-1), { event: "authenticate", args: [{ token: "token-2" }] });
  assert.deepEqual(requests, ["connect", "reconnect"]);
  auth.disconnect();
});

test("authenticated() resolves, immediately when already authenticated", async () => {
  const { auth, created } = setup();
  auth.connect();
  const pending = auth.authenticated();
  created[0].serverConnect();
  created[0].fire("authenticated", { sub: "alice", exp: 9e9 });
  assert.deepEqual(await pending, { sub: "alice", exp: 9e9 });
  assert.deepEqual(await auth.authenticated(), { sub: "alice", exp: 9e9 });
  auth.disconnect();
});

test("authenticated() rejects with the contract's error object", async () => {
  const { auth, created } = setup({ recover: false });
  auth.connect();
  const pending = auth.authenticated();
  created[0].serverConnect();
  const object = {
    message: "the token has expired",
    code: "token_expired",
    type: "UnauthorizedError",
    data: { message: "the token has expired", code: "token_expired", type: "UnauthorizedError" },
  };
  created[0].fire("unauthorized", object);
  const err = await pending.then(
    () => assert.fail("should reject"),
    (e) => e,
  );
  assert.ok(err instanceof AuthError);
  assert.equal(err.code, "token_expired");
  assert.equal(err.data.code, "token_expired");
  assert.equal(err.type, "UnauthorizedError");
  assert.deepEqual(err.toJSON(), object);
  assert.equal(auth.state, "unauthorized");
  await assert.rejects(auth.authenticated(), (e) => e.code === "token_expired");
});

test("no listener piles up across reconnects and calls", async () => {
  const { auth, created } = setup();
  auth.connect();
  const socket = created[0];
  const before = socket.listenerCount();
  for (let i = 0; i < 10; i++) {
    const waiting = auth.authenticated();
    auth.authenticated();
    socket.serverConnect();
    await flush();
    socket.fire("authenticated", { sub: "alice", exp: 9e9 });
    await waiting;
    socket.serverDrop();
  }
  assert.equal(socket.listenerCount(), before);
  for (const event of ["connect", "disconnect", "authenticated", "unauthorized", "connect_error"]) {
    assert.equal(socket.listeners(event).length, 1, event);
  }
  auth.disconnect();
});

test("handshake mode: auth is a function asked for a current token each time", async () => {
  const { auth, created, requests } = setup({ mode: "handshake" });
  auth.connect();
  const socket = created[0];
  assert.equal(typeof socket.opts.auth, "function");
  assert.deepEqual(await socket.handshakeAuth(), { token: "token-1" });
  socket.serverConnect();
  socket.fire("authenticated", { sub: "alice", exp: 9e9 });
  socket.serverDrop();
  assert.deepEqual(await socket.handshakeAuth(), { token: "token-2" });
  assert.deepEqual(requests, ["connect", "reconnect"]);
  assert.ok(!socket.sent.some((m) => m.event === "authenticate"), "no authenticate event in handshake mode");
  auth.disconnect();
});

test("handshake mode: connect_error with a code becomes an AuthError; network errors do not", async () => {
  const { auth, created } = setup({ mode: "handshake" });
  auth.connect();
  const pending = auth.authenticated();
  // Not refusals: waited out (a backoff, then connecting again), never final.
  created[0].fire("connect_error", new Error("websocket error"));
  assert.equal(auth.state, "waiting");
  assert.equal(auth.lastError, null);
  // socket.io-client's own connect timeout: not the contract's `timeout`.
  created[0].fire("connect_error", new Error("timeout"));
  assert.equal(auth.state, "waiting");
  assert.equal(auth.lastError, null);
  // A refusal by the server, as socket.io-client gives it (with a `data` property).
  created[0].fire("connect_error", handshakeRefusal("invalid_token"));
  await assert.rejects(pending, (e) => e instanceof AuthError && e.code === "invalid_token" && e.data.code === "invalid_token");
  assert.equal(auth.lastError.message, "the token is invalid");
});

test("refreshes in-band before expiry", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  const { auth, created, requests } = setup({ refreshMarginMs: 60_000 });
  auth.connect();
  const socket = created[0];
  socket.serverConnect();
  await flush();
  // 20 s left, margin 60 s: refresh at half the remaining lifetime.
  socket.fire("authenticated", { sub: "alice", exp: 1_000 + 20 });
  t.mock.timers.tick(9_999);
  await flush();
  assert.deepEqual(requests, ["connect"]);
  t.mock.timers.tick(1);
  await flush();
  assert.deepEqual(requests, ["connect", "refresh"]);
  assert.deepEqual(socket.sent.at(-1), { event: "authenticate", args: [{ token: "token-2" }] });
  auth.disconnect();
});

test("a refusal nobody awaits is not an unhandled rejection", async () => {
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  const { auth, created } = setup();
  auth.connect();
  auth.authenticated(); // created, never awaited
  created[0].fire("unauthorized", { code: "invalid_token", message: "the token is invalid" });
  await flush();
  await new Promise((r) => setTimeout(r, 0));
  process.off("unhandledRejection", onUnhandled);
  assert.deepEqual(unhandled, []);
});

test("state listeners see every transition and can unsubscribe", async () => {
  const { auth, created } = setup();
  const seen = [];
  const off = auth.onStateChange((s) => seen.push(s));
  auth.connect();
  created[0].serverConnect();
  created[0].fire("authenticated", {});
  off();
  created[0].serverDrop();
  assert.deepEqual(seen, ["connecting", "authenticating", "authenticated"]);
});

const refusal = (code) => ({ code, message: code, type: "UnauthorizedError", data: { code, message: code, type: "UnauthorizedError" } });

test("a token that expires in more than 24.8 days is not refreshed at once (the timer's limit)", async () => {
  const { auth, created, requests } = setup();
  auth.connect();
  const socket = created[0];
  socket.serverConnect();
  await flush();
  // exp far beyond 2^31 - 1 ms from now: an unclamped setTimeout would fire after 1 ms.
  socket.fire("authenticated", { sub: "alice", exp: 9e9 });
  await new Promise((resolve) => setTimeout(resolve, 30));
  await flush();
  assert.deepEqual(requests, ["connect"]);
  auth.disconnect();
});

test("token_expiring from the server refreshes in-band, once however often it comes", async () => {
  const { auth, created, requests } = setup();
  auth.connect();
  const socket = created[0];
  socket.serverConnect();
  await flush();
  socket.fire("authenticated", { sub: "alice", exp: 9e9 });
  socket.fire("token_expiring", { exp: 9e9, expires_in_ms: 30_000 });
  socket.fire("token_expiring", { exp: 9e9, expires_in_ms: 30_000 });
  await flush();
  assert.deepEqual(requests, ["connect", "refresh"]);
  assert.deepEqual(socket.sent.at(-1), { event: "authenticate", args: [{ token: "token-2" }] });
  assert.deepEqual(socket.ackTimeouts, [10_000], "the refresh's ack wait is bounded");
  auth.disconnect();
});

test("after token_expired it asks for a new token, then reconnects with it", async () => {
  const { auth, created, requests } = setup();
  auth.connect();
  const socket = created[0];
  const pending = auth.authenticated();
  socket.serverConnect();
  await flush();
  socket.fire("authenticated", { sub: "alice", exp: 9e9 });
  socket.fire("unauthorized", refusal("token_expired"));
  socket.serverDrop("io server disconnect");
  await flush();
  assert.equal(socket.connectCalls, 1, "reconnected once");
  assert.equal(auth.state, "connecting");
  socket.serverConnect();
  await flush();
  assert.deepEqual(requests, ["connect", "expired"], "the new token is used, not asked again");
  assert.deepEqual(socket.sent.at(-1), { event: "authenticate", args: [{ token: "token-2" }] });
  socket.fire("authenticated", { sub: "alice", exp: 9e9 });
  assert.equal(auth.state, "authenticated");
  assert.deepEqual(await pending, { sub: "alice", exp: 9e9 });
  auth.disconnect();
});

test("a source that returns the refused token again ends in unauthorized without reconnecting", async () => {
  const { io, created } = fakeIo();
  const requests = [];
  const auth = new AuthSocket({ url: "http://server/", io, getToken: (r) => (requests.push(r.reason), "stale") });
  auth.connect();
  const socket = created[0];
  const pending = auth.authenticated();
  socket.serverConnect();
  await flush();
  socket.fire("unauthorized", refusal("revoked"));
  await flush();
  assert.deepEqual(requests, ["connect", "revoked"]);
  assert.equal(socket.connectCalls, 0, "no reconnect with a stale token");
  assert.equal(auth.state, "unauthorized");
  assert.equal(auth.lastError.code, "revoked");
  await assert.rejects(pending, (e) => e.code === "revoked");
});

test("a source whose tokens keep being refused is given up after maxRecoveries", async () => {
  const { auth, created, requests } = setup({ maxRecoveries: 3 });
  auth.connect();
  const socket = created[0];
  const pending = auth.authenticated();
  for (let i = 0; i < 6; i++) {
    socket.serverConnect();
    await flush();
    socket.fire("unauthorized", refusal("revoked"));
    socket.serverDrop("io server disconnect");
    await flush();
    if (auth.state === "unauthorized") break;
  }
  assert.equal(socket.connectCalls, 3, "three new tokens tried, no more");
  assert.deepEqual(requests, ["connect", "revoked", "revoked", "revoked"]);
  assert.equal(auth.state, "unauthorized");
  await assert.rejects(pending, (e) => e.code === "revoked");
});

test("a throwing source and codes a new token cannot fix end in unauthorized at once", async () => {
  for (const [code, getToken] of [
    ["revoked", (r) => (r.reason === "connect" ? "t" : Promise.reject(new Error("logged out")))],
    ["invalid_token", () => "fresh-every-time-" + Math.random()],
  ]) {
    const { io, created } = fakeIo();
    const auth = new AuthSocket({ url: "http://server/", io, getToken });
    auth.connect();
    created[0].serverConnect();
    await flush();
    created[0].fire("unauthorized", refusal(code));
    await flush();
    assert.equal(created[0].connectCalls, 0, code);
    assert.equal(auth.state, "unauthorized", code);
    assert.equal(auth.lastError.code, code);
  }
});

test("handshake mode: a refused handshake for token_expired reconnects with a new token", async () => {
  const { auth, created, requests } = setup({ mode: "handshake" });
  auth.connect();
  const socket = created[0];
  assert.deepEqual(await socket.handshakeAuth(), { token: "token-1" });
  socket.fire("connect_error", handshakeRefusal("token_expired"));
  await flush();
  assert.equal(socket.connectCalls, 1);
  assert.deepEqual(await socket.handshakeAuth(), { token: "token-2" });
  assert.deepEqual(requests, ["connect", "expired"]);
  auth.disconnect();
});

/** A `getToken` whose answers the test gives, one request at a time. */
function controlledSource() {
  const pending = [];
  const getToken = ({ reason }) =>
    new Promise((resolve, reject) => pending.push({ reason, resolve, reject }));
  return { getToken, pending };
}

/** A connected socket (message mode) whose first token is being fetched, answered by the test. */
async function connectedWithControlledSource() {
  const { io, created } = fakeIo();
  const { getToken, pending } = controlledSource();
  const auth = new AuthSocket({ url: "http://server/", io, getToken });
  auth.connect();
  const socket = created[0];
  socket.serverConnect();
  await flush();
  return { auth, socket, pending };
}

test("a token asked for before disconnect() is never used after connect() (another user)", async () => {
  const { auth, socket, pending } = await connectedWithControlledSource();
  assert.equal(pending.length, 1, "alice's token is being fetched");
  auth.disconnect();
  auth.connect();
  socket.serverConnect();
  await flush();
  assert.equal(pending.length, 2, "bob's token is asked for");
  pending[0].resolve("alice");
  await flush();
  assert.ok(!socket.sent.some((m) => m.args[0]?.token === "alice"), "alice's token was not sent");
  pending[1].resolve("bob");
  await flush();
  assert.deepEqual(socket.sent.at(-1), { event: "authenticate", args: [{ token: "bob" }] });
  auth.disconnect();
});

test("a late failure of a replaced token request does not end an authenticated socket", async () => {
  const { auth, socket, pending } = await connectedWithControlledSource();
  socket.serverDrop("transport close");
  socket.serverConnect();
  await flush();
  pending[1].resolve("t2");
  await flush();
  socket.fire("authenticated", { sub: "ada", exp: 9e9 });
  pending[0].reject(new Error("late"));
  await flush();
  assert.equal(auth.state, "authenticated");
  auth.disconnect();
});

test("during a recovery, the transport's own reconnect waits for the new token, never resends the refused one", async () => {
  for (const mode of ["message", "handshake"]) {
    const { io, created } = fakeIo();
    const { getToken, pending } = controlledSource();
    const auth = new AuthSocket({ url: "http://server/", io, getToken, mode });
    auth.connect();
    const socket = created[0];
    const sent = [];
    const handshake = async () => {
      const payload = await socket.handshakeAuth();
      if (payload?.token) sent.push(payload.token);
    };
    const first = mode === "handshake" ? handshake() : null;
    if (mode === "message") socket.serverConnect();
    await flush();
    pending[0].resolve("old");
    await first;
    if (mode === "handshake") socket.serverConnect();
    await flush();
    socket.fire("authenticated", { sub: "ada", exp: 9e9 });
    socket.fire("unauthorized", { code: "token_expired", message: "expired" });
    await flush();
    assert.equal(pending.at(-1).reason, "expired", mode);
    // The connection drops before the server's disconnect; socket.io-client reconnects.
    socket.serverDrop("transport close");
    const again = mode === "handshake" ? handshake() : null;
    if (mode === "message") socket.serverConnect();
    await flush();
    assert.equal(pending.length, 2, `${mode}: no reconnect token asked for meanwhile`);
    pending[1].resolve("new");
    await again;
    await flush();
    const tokens = [...sent, ...socket.sent.filter((m) => m.event === "authenticate").map((m) => m.args[0].token)];
    assert.deepEqual(tokens, ["old", "new"], mode);
    auth.disconnect();
  }
});

test("refresh: false turns off the automatic refreshes, not refresh()", async () => {
  const { auth, created, requests } = setup({ refresh: false });
  auth.connect();
  const socket = created[0];
  socket.serverConnect();
  await flush();
  socket.fire("authenticated", { sub: "ada", exp: 9e9, expires_in_ms: 60_000 });
  socket.fire("token_expiring", { exp: 9e9, expires_in_ms: 10_000 });
  await flush();
  assert.deepEqual(requests, ["connect"], "no automatic refresh");
  const done = auth.refresh();
  await flush();
  assert.deepEqual(requests, ["connect", "refresh"]);
  socket.fire("authenticated", { sub: "ada", exp: 9e9, expires_in_ms: 60_000 });
  assert.equal((await done).sub, "ada");
  auth.disconnect();
});

test("authenticated() waiting when the app disconnects is rejected, not left hanging", async () => {
  const { auth } = setup();
  auth.connect();
  const waiting = auth.authenticated();
  auth.disconnect();
  await assert.rejects(waiting, /disconnected/);
});
