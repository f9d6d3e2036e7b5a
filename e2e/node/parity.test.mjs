// What socketio-jwt and socketio-auth let an app do (issue 36), against the real demo with the
// stock socket.io-client, in both modes.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, describe, test } from "node:test";

import { io as ioClient } from "socket.io-client";

import {
  TEST_SECRET,
  adminRevoke,
  authenticatedSocket,
  jtiAndExp,
  login,
  refusalCode,
  startDemo,
  startRedis,
  testToken,
  until,
} from "./demo-server.mjs";

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

/** Connects in handshake mode with `token`: the socket once connected, or the refusal's code. */
async function handshake(url, token) {
  const s = ioClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { token } });
  s.received = [];
  s.onAny((event, ...args) => s.received.push({ event, args }));
  sockets.push(s);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no authenticated or connect_error within 10 s")), 10_000);
    s.once("authenticated", () => (clearTimeout(timer), resolve({ socket: s })));
    s.once("connect_error", (err) => (clearTimeout(timer), resolve({ code: err.message })));
  });
}

describe("HMAC secrets rotated without a kid: --secret repeated, the first signs, every one verifies", () => {
  const PREVIOUS = "the-previous-secret-0123456789abcdef";
  const NEITHER = "a-secret-the-demo-never-had-0123456789";

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode`, async () => {
      const demo = await startDemo(["--mode", mode, "--secret", PREVIOUS]);
      try {
        const own = await login(demo.url, "alice", "wonderland");
        const previous = testToken("alice", { key: PREVIOUS });
        const forged = testToken("alice", { key: NEITHER });
        if (mode === "message") {
          for (const token of [own, previous]) await authenticatedSocket(demo.url, token, sockets);
          assert.equal(await refusalCode(demo.url, forged, sockets), "invalid_token");
        } else {
          for (const token of [own, previous]) assert.ok((await handshake(demo.url, token)).socket);
          assert.equal((await handshake(demo.url, forged)).code, "invalid_token");
        }
        // The demo signs with the first secret given.
        const [input, signature] = [own.split(".").slice(0, 2).join("."), own.split(".")[2]];
        assert.equal(createHmac("sha256", TEST_SECRET).update(input).digest("base64url"), signature);
      } finally {
        await demo.stop();
      }
    });
  }
});

describe("--token-cookie: the token in an HttpOnly cookie, read on handshakes and REST from the page's origins", () => {
  test("set by /login and /token/refresh, cleared by /logout; a handshake and REST with the cookie alone; another origin refused", async () => {
    const demo = await startDemo(["--mode", "handshake", "--token-cookie", "chat_token"]);
    try {
      const res = await fetch(`${demo.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: "wonderland" }),
      });
      assert.equal(res.status, 200);
      const setCookie = res.headers.get("set-cookie");
      assert.match(setCookie, /^chat_token=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
      const cookie = setCookie.split(";")[0];
      // REST: the cookie alone; from another origin, refused.
      const me = await fetch(`${demo.url}/api/me`, { headers: { cookie } });
      assert.equal(me.status, 200);
      assert.equal((await me.json()).sub, "alice");
      const foreign = await fetch(`${demo.url}/api/me`, { headers: { cookie, origin: "https://evil.example" } });
      assert.equal(foreign.status, 403);
      const refreshed = await fetch(`${demo.url}/token/refresh`, { method: "POST", headers: { cookie, origin: demo.url } });
      assert.equal(refreshed.status, 200);
      assert.match(refreshed.headers.get("set-cookie"), /^chat_token=/);
      // A handshake with the cookie alone (the stock client, no auth payload), and from another origin.
      const open = (headers) => {
        const s = ioClient(demo.url, { transports: ["websocket"], reconnection: false, forceNew: true, extraHeaders: headers });
        sockets.push(s);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no authenticated or connect_error within 10 s")), 10_000);
          s.once("authenticated", (info) => (clearTimeout(timer), resolve({ sub: info.sub })));
          s.once("connect_error", (err) => (clearTimeout(timer), resolve({ code: err.message })));
        });
      };
      assert.deepEqual(await open({ cookie }), { sub: "alice" });
      assert.deepEqual(await open({ cookie, origin: demo.url }), { sub: "alice" });
      assert.deepEqual(await open({ cookie, origin: "https://evil.example" }), { code: "forbidden" });
      assert.deepEqual(await open({}), { code: "credentials_required" });
      // Logout clears it.
      const out = await fetch(`${demo.url}/logout`, { method: "POST", headers: { cookie } });
      assert.equal(out.status, 204);
      assert.match(out.headers.get("set-cookie"), /^chat_token=; .*Max-Age=0/);
    } finally {
      await demo.stop();
    }
  });

  test("refused at start in message mode (the cookie goes with handshakes), and for a __Host- name without https origins", async () => {
    for (const [args, why] of [
      [["--token-cookie", "t"], /--mode handshake/],
      [["--mode", "handshake", "--token-cookie", "__Host-t"], /__Host-/],
      [["--mode", "handshake", "--token-cookie", "a;b"], /not a cookie name/],
    ]) {
      const output = [];
      await assert.rejects(startDemo(args, { output }), (e) => why.test(e.message), args.join(" "));
    }
  });
});

describe("--identity-claim: users named by another claim than sub", () => {
  /** An HS256 token with exactly these claims. */
  const sign = (claims) => {
    const b64url = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const input = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
    return `${input}.${createHmac("sha256", TEST_SECRET).update(input).digest("base64url")}`;
  };

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode: authenticated, presence and messages name the email; revoking it by that name ends the socket`, async () => {
      const demo = await startDemo(["--mode", mode, "--identity-claim", "email"]);
      try {
        const iat = Math.floor(Date.now() / 1000) - 1;
        const token = sign({ sub: "pairwise-7f3a", email: "carol@example.com", iat, exp: iat + 600, role: "user" });
        let socket;
        if (mode === "message") {
          socket = await authenticatedSocket(demo.url, token, sockets);
        } else {
          const outcome = await handshake(demo.url, token);
          assert.ok(outcome.socket, `refused: ${outcome.code}`);
          socket = outcome.socket;
        }
        // Presence (broadcast when it joined) names the email.
        const heard = (event, match) => socket.received.some((m) => m.event === event && match(m.args[0]));
        await until(() => heard("presence", ({ users }) => users.includes("carol@example.com")), "presence naming the email");
        socket.emit("chat message", { text: "hi" });
        await until(() => heard("chat message", (m) => m.text === "hi"), "its own message back");
        const said = socket.received.find((m) => m.event === "chat message").args[0];
        assert.equal(said.from, "carol@example.com");
        const revoked = await adminRevoke(demo.url, { sub: "carol@example.com" });
        assert.equal(revoked.status, 200);
        await until(() => heard("unauthorized", (e) => e.code === "revoked"), "revoked");
      } finally {
        await demo.stop();
      }
    });
  }
});

describe("--allow-guests: sockets without a token stay as guests, in the lobby only", () => {
  /** A socket recording what it receives (no token: a guest). */
  const guestSocket = (url, opts = {}) => {
    const s = ioClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...opts });
    s.received = [];
    s.onAny((event, ...args) => s.received.push({ event, args }));
    sockets.push(s);
    return s;
  };
  const heard = (s, event, match = () => true) => s.received.some((m) => m.event === event && match(m.args[0]));
  const ack = (s, event, ...args) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack to ${event} within 10 s`)), 10_000);
      s.emit(event, ...args, (answer) => (clearTimeout(timer), resolve(answer)));
    });

  /**
   * `guest` (on one process) hears the lobby, never a message to everyone, cannot speak, and
   * logs in later on the same socket; `alice` may be on another process.
   */
  async function guestSession(guestUrl, aliceUrl, mode) {
    const guest = guestSocket(guestUrl);
    await until(() => guest.connected, "the guest connected");
    assert.deepEqual(await ack(guest, "whoami"), { guest: true });
    const refused = await ack(guest, "chat message", { text: "let me speak" });
    assert.equal(refused.code, "forbidden");
    const alice = await authenticatedSocket(aliceUrl, await login(aliceUrl, "alice", "wonderland"), sockets);
    assert.deepEqual(await ack(alice, "chat message", { text: "to everyone" }), { ok: true });
    assert.deepEqual(await ack(alice, "chat message", { text: "to the lobby", room: "lobby" }), { ok: true });
    await until(() => heard(guest, "chat message", (m) => m.text === "to the lobby"), "the lobby message");
    // Sent before the lobby's, on the same channel: had it reached the guest, it would be here.
    assert.equal(heard(guest, "chat message", (m) => m.text === "to everyone"), false);
    assert.equal(heard(guest, "presence"), false, "presence is for authenticated users");
    // It logs in on the same socket.
    const id = guest.id;
    const token = await login(guestUrl, "bob", "builder");
    const authenticated = new Promise((resolve) => guest.once("authenticated", resolve));
    guest.emit("authenticate", { token });
    assert.equal((await authenticated).sub, "bob");
    assert.equal(guest.id, id);
    assert.equal((await ack(guest, "whoami")).sub, "bob");
    assert.deepEqual(await ack(alice, "chat message", { text: "now you hear me" }), { ok: true });
    await until(() => heard(guest, "chat message", (m) => m.text === "now you hear me"), `${mode}: the broadcast, once logged in`);
  }

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode, one process`, async () => {
      const demo = await startDemo(["--mode", mode, "--allow-guests", "--auth-timeout-ms", "300"]);
      try {
        await guestSession(demo.url, demo.url, mode);
      } finally {
        await demo.stop();
      }
    });
  }

  test("two processes on Redis: a guest on B never hears A's broadcast to everyone, hears A's lobby", async () => {
    const redis = await startRedis();
    const [A, B] = await Promise.all([0, 1].map(() => startDemo(["--allow-guests", "--redis", redis.url])));
    try {
      await guestSession(B.url, A.url, "redis");
    } finally {
      await Promise.all([A.stop(), B.stop()]);
      await redis.cleanup();
    }
  });
});

describe("room tokens: POST /rooms/{room}/token, then join { room, token } on the socket", () => {
  const recorded = (s) => {
    s.received = [];
    s.onAny((event, ...args) => s.received.push({ event, args }));
    return s;
  };
  const ack = (s, event, ...args) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack to ${event} within 10 s`)), 10_000);
      s.emit(event, ...args, (answer) => (clearTimeout(timer), resolve(answer)));
    });
  const heard = (s, text) => s.received.some((m) => m.event === "chat message" && m.args[0].text === text);
  const roomToken = async (url, bearer, room) => {
    const res = await fetch(`${url}/rooms/${room}/token`, { method: "POST", headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.status, body: await res.json() };
  };

  test("granted rooms only; the socket hears the room until the room token expires, warned first (message mode)", async () => {
    const demo = await startDemo(["--room-token-ttl-secs", "2"]);
    try {
      const aliceLogin = await login(demo.url, "alice", "wonderland");
      assert.equal((await roomToken(demo.url, aliceLogin, "workshop")).status, 403, "not granted to alice");
      const { status, body } = await roomToken(demo.url, aliceLogin, "tea-party");
      assert.equal(status, 200);
      // Her socket's own token grants no room: only the room token lets it in.
      const alice = recorded(await authenticatedSocket(demo.url, testToken("alice", { rooms: [] }), sockets));
      const admin = await authenticatedSocket(demo.url, await login(demo.url, "admin", "admin-password"), sockets);
      assert.equal((await ack(alice, "chat message", { text: "x", room: "tea-party" })).code, "forbidden", "not in it yet");
      assert.equal((await ack(alice, "join", { room: "workshop", token: body.token })).code, "forbidden", "another room");
      assert.equal((await ack(alice, "join", { room: "tea-party", token: aliceLogin })).code, "invalid_token", "a login token");
      const joined = await ack(alice, "join", { room: "tea-party", token: body.token });
      assert.equal(joined.ok, true);
      assert.ok(joined.expires_in_ms > 0 && joined.expires_in_ms <= 2_000, JSON.stringify(joined));
      assert.deepEqual(await ack(admin, "chat message", { text: "inside", room: "tea-party" }), { ok: true });
      await until(() => heard(alice, "inside"), "the room's message");
      assert.deepEqual(await ack(alice, "chat message", { text: "me too", room: "tea-party" }), { ok: true });
      await until(() => alice.received.some((m) => m.event === "room_expiring"), "room_expiring");
      const warning = alice.received.find((m) => m.event === "room_expiring").args[0];
      assert.equal(warning.room, "room:tea-party");
      assert.ok(warning.expires_in_ms > 0 && warning.expires_in_ms <= 1_000, JSON.stringify(warning));
      // Past its end: out of the room. The admin's broadcast is written before its ack, and
      // whoami's answer comes after anything written to alice before it.
      await new Promise((r) => setTimeout(r, warning.expires_in_ms + 300));
      assert.deepEqual(await ack(admin, "chat message", { text: "after", room: "tea-party" }), { ok: true });
      await ack(alice, "whoami");
      assert.equal(heard(alice, "after"), false, "left at the room token's exp");
      assert.equal((await ack(alice, "chat message", { text: "x", room: "tea-party" })).code, "forbidden");
    } finally {
      await demo.stop();
    }
  });

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode, two processes on Redis: revoking the room token on A takes the socket on B out of the room at once`, async () => {
      const redis = await startRedis();
      const [A, B] = await Promise.all([0, 1].map(() => startDemo(["--mode", mode, "--redis", redis.url])));
      try {
        const aliceLogin = await login(A.url, "alice", "wonderland");
        const { body } = await roomToken(A.url, aliceLogin, "tea-party");
        const plain = testToken("alice", { rooms: [] });
        const alice = recorded(
          mode === "message" ? await authenticatedSocket(B.url, plain, sockets) : (await handshake(B.url, plain)).socket,
        );
        const adminLogin = await login(A.url, "admin", "admin-password");
        const admin =
          mode === "message" ? await authenticatedSocket(A.url, adminLogin, sockets) : (await handshake(A.url, adminLogin)).socket;
        assert.equal((await ack(alice, "join", { room: "tea-party", token: body.token })).ok, true);
        assert.deepEqual(await ack(admin, "chat message", { text: "inside", room: "tea-party" }), { ok: true });
        await until(() => heard(alice, "inside"), "the room's message, across processes");
        // By its jti (a room token is not a credential: /admin/revoke { token } would not read it).
        const revoked = await adminRevoke(A.url, jtiAndExp(body.token), adminLogin);
        assert.equal(revoked.status, 200);
        await until(() => alice.received.some((m) => m.event === "room_expiring" && m.args[0].expires_in_ms === 0), "told it left");
        // A's room message, then a message to everyone: in order on B, so once the second is
        // heard, the first would have been.
        assert.deepEqual(await ack(admin, "chat message", { text: "secret", room: "tea-party" }), { ok: true });
        assert.deepEqual(await ack(admin, "chat message", { text: "marker" }), { ok: true });
        await until(() => heard(alice, "marker"), "the marker");
        assert.equal(heard(alice, "secret"), false);
        assert.equal(alice.connected, true, "the socket itself stays");
        assert.equal((await ack(alice, "join", { room: "tea-party", token: body.token })).code, "revoked");
      } finally {
        await Promise.all([A.stop(), B.stop()]);
        await redis.cleanup();
      }
    });
  }
});

describe("refreshes are ordered: none rolls the socket back to an older token", () => {
  const ack = (s, event, ...args) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack to ${event} within 10 s`)), 10_000);
      s.emit(event, ...args, (answer) => (clearTimeout(timer), resolve(answer)));
    });

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode: two refreshes sent back to back end on the newer; an older one later changes nothing`, async () => {
      const demo = await startDemo(["--mode", mode]);
      try {
        const now = Math.floor(Date.now() / 1000);
        const first = testToken("carol", { iat: now - 20, ttl: 300 });
        const older = testToken("carol", { iat: now - 10, ttl: 400 });
        const newer = testToken("carol", { iat: now - 1, ttl: 900 });
        const socket = mode === "message" ? await authenticatedSocket(demo.url, first, sockets) : (await handshake(demo.url, first)).socket;
        const told = [];
        socket.on("authenticated", (info) => told.push(info.exp));
        // Verified side by side: whichever finishes first, the newer token is what stays.
        const acks = await Promise.all([ack(socket, "authenticate", { token: older }), ack(socket, "authenticate", { token: newer })]);
        assert.deepEqual(acks, [{ ok: true }, { ok: true }]);
        assert.equal((await ack(socket, "whoami")).exp, now - 1 + 900);
        // The older token again, alone: acked, and the socket keeps the newer one (and says so).
        assert.deepEqual(await ack(socket, "authenticate", { token: older }), { ok: true });
        assert.equal((await ack(socket, "whoami")).exp, now - 1 + 900);
        await until(() => told.length >= 3, "authenticated after each refresh");
        assert.equal(told.at(-1), now - 1 + 900, `told: ${told}`);
        assert.equal(socket.connected, true);
      } finally {
        await demo.stop();
      }
    });
  }
});

describe("--credential-source: where a handshake may carry the token, in the order given", () => {
  /** A handshake-mode connection with these `auth` and headers: authenticated (its sub) or the refusal's code. */
  const open = (url, { auth, headers }) => {
    const s = ioClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth, extraHeaders: headers });
    sockets.push(s);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no authenticated or connect_error within 10 s")), 10_000);
      s.once("authenticated", (info) => (clearTimeout(timer), resolve({ sub: info.sub })));
      s.once("connect_error", (err) => (clearTimeout(timer), resolve({ code: err.message })));
    });
  };

  test("header only (socketio-jwt's auth_header_required): the auth payload is not read; REST reads the header", async () => {
    const demo = await startDemo(["--mode", "handshake", "--credential-source", "header"]);
    try {
      const token = testToken("carol");
      assert.deepEqual(await open(demo.url, { auth: { token } }), { code: "credentials_required" });
      assert.deepEqual(await open(demo.url, { headers: { authorization: `Bearer ${token}` } }), { sub: "carol" });
      const me = await fetch(`${demo.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200);
    } finally {
      await demo.stop();
    }
  });

  test("cookie first, then the auth payload: the cookie wins; a cookie source without --token-cookie is refused at start", async () => {
    const demo = await startDemo(["--mode", "handshake", "--token-cookie", "t", "--credential-source", "cookie", "--credential-source", "auth"]);
    try {
      const cookie = `t=${testToken("from-cookie")}`;
      const auth = { token: testToken("from-auth") };
      assert.deepEqual(await open(demo.url, { auth, headers: { cookie } }), { sub: "from-cookie" });
      assert.deepEqual(await open(demo.url, { auth }), { sub: "from-auth" });
      // Not a source here: the header.
      const header = { authorization: `Bearer ${testToken("from-header")}` };
      assert.deepEqual(await open(demo.url, { headers: header }), { code: "credentials_required" });
    } finally {
      await demo.stop();
    }
    await assert.rejects(startDemo(["--mode", "handshake", "--credential-source", "cookie"], { output: [] }), /needs --token-cookie/);
  });
});
