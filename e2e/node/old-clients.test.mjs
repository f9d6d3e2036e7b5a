// The clients a socketio-jwt user runs today, unmodified, against the demo: socket.io-client 2.x
// and 1.x (Engine.IO v3, the era of the seed's client and of socketio-jwt's message mode), over
// websocket and over polling then upgrade; and socket.io-client 4.x with socket.io-msgpack-parser.
// Each: good and bad tokens, inert before `authenticate` (no ack, no broadcast), timeout,
// refresh, expiry, revocation, rooms granted by the token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import ioV1 from "socket.io-client-v1";
import ioV2 from "socket.io-client-v2";
import { io as ioV4 } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

import { adminRevoke, startDemo, testToken } from "./demo-server.mjs";

const WAIT = 10_000;
const sockets = [];
after(() => sockets.forEach((s) => s.close()));

/** Resolves with the first argument of the next `event` on `socket`; rejects after `ms`. */
function next(socket, event, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/** Emits with an ack callback (1.x and 2.x have no `emitWithAck`); rejects after `ms`. */
function ack(socket, event, data, ms = WAIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack to ${event} within ${ms} ms`)), ms);
    socket.emit(event, data, (reply) => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

/** The clients under test: how to open one, and what the demo runs with for it. */
const CLIENTS = [
  { name: "socket.io-client@2.5.0, websocket", io: ioV2, opts: { transports: ["websocket"] } },
  { name: "socket.io-client@2.5.0, polling then upgrade", io: ioV2, opts: {}, upgrades: true },
  { name: "socket.io-client@1.7.4, websocket", io: ioV1, opts: { transports: ["websocket"] } },
  { name: "socket.io-client@1.7.4, polling then upgrade", io: ioV1, opts: {}, upgrades: true },
  {
    name: "socket.io-client@4.8.4 + socket.io-msgpack-parser@3.0.2",
    io: ioV4,
    opts: { transports: ["websocket"], parser: msgpackParser },
    demoArgs: ["--parser", "msgpack"],
  },
];

for (const client of CLIENTS) {
  describe(`message mode: ${client.name}`, () => {
    let demo;
    before(async () => {
      demo = await startDemo(["--auth-timeout-ms", "1500", "--expiry-warning-secs", "0", ...(client.demoArgs ?? [])]);
    });
    after(() => demo.stop());

    const open = () => {
      const socket = client.io(demo.url, { ...client.opts, forceNew: true, reconnection: false });
      sockets.push(socket);
      return socket;
    };
    const connected = async () => {
      const socket = open();
      await next(socket, "connect");
      return socket;
    };
    /** A connected, authenticated socket for `sub` (its token from `options`). */
    const authenticated = async (sub, options) => {
      const socket = await connected();
      const answer = next(socket, "authenticated");
      socket.emit("authenticate", { token: testToken(sub, options) });
      return { socket, info: await answer };
    };

    test("a good token: authenticated, then handlers answer", async () => {
      const { socket, info } = await authenticated("alice-old");
      assert.equal(info.sub, "alice-old");
      assert.equal(typeof info.exp, "number");
      assert.equal((await ack(socket, "whoami", {})).sub, "alice-old");
      if (client.upgrades) {
        // Polling first, then the websocket: the upgrade happened under the authenticated socket.
        const engine = socket.io.engine;
        if (engine.transport.name !== "websocket") await next(engine, "upgrade");
        assert.equal(engine.transport.name, "websocket");
        assert.equal((await ack(socket, "whoami", {})).sub, "alice-old");
      }
      socket.close();
    });

    test("bad tokens: unauthorized with the contract's code, then disconnected by the server", async () => {
      for (const [token, code] of [
        [testToken("mallory", { key: "another-secret-0123456789abcdef0123" }), "invalid_token"],
        [testToken("mallory", { iat: Math.floor(Date.now() / 1000) - 700, ttl: 600 }), "token_expired"],
        ["not-a-jwt", "credentials_bad_format"],
        ["", "credentials_required"],
      ]) {
        const socket = await connected();
        const refused = next(socket, "unauthorized");
        const gone = next(socket, "disconnect");
        socket.emit("authenticate", { token });
        const err = await refused;
        assert.equal(err.data.code, code, `token ${JSON.stringify(token.slice(0, 12))}`);
        assert.equal(typeof err.message, "string");
        assert.equal(await gone, "io server disconnect");
      }
    });

    test("inert before authenticate: no ack, no broadcast; live after", async () => {
      const sender = (await authenticated("bob-old")).socket;
      const pending = await connected();
      const heard = [];
      pending.on("chat message", (m) => heard.push(m.text));
      let early = null;
      pending.emit("whoami", {}, (reply) => (early = reply));
      assert.deepEqual(await ack(sender, "chat message", { text: "while pending" }), { ok: true });
      const answer = next(pending, "authenticated");
      pending.emit("authenticate", { token: testToken("carol-old") });
      await answer;
      // The server answers in order: once this ack is here, an answer to the early one would be too.
      assert.equal((await ack(pending, "whoami", {})).sub, "carol-old");
      assert.equal(early, null, "no handler ran before authentication");
      const after = next(pending, "chat message");
      assert.deepEqual(await ack(sender, "chat message", { text: "after" }), { ok: true });
      await after;
      assert.deepEqual(heard, ["after"], "the broadcast sent while pending never arrived");
    });

    test("timeout: no authenticate within the limit", async () => {
      const socket = await connected();
      const err = await next(socket, "unauthorized");
      assert.equal(err.data.code, "timeout");
    });

    test("refresh in band keeps the socket; expiry refuses it", async () => {
      const { socket, info } = await authenticated("dave-old", { ttl: 60 });
      const again = next(socket, "authenticated");
      socket.emit("authenticate", { token: testToken("dave-old", { ttl: 600 }) });
      const refreshed = await again;
      assert.ok(refreshed.exp > info.exp, "a later exp");
      assert.equal((await ack(socket, "whoami", {})).sub, "dave-old");
      const short = await authenticated("erin-old", { iat: Math.floor(Date.now() / 1000), ttl: 2 });
      const expired = await next(short.socket, "unauthorized", 5_000);
      assert.equal(expired.data.code, "token_expired");
    });

    test("revocation and rooms granted by the token", async () => {
      const member = await authenticated("frank-old", { rooms: ["general"] });
      const outsider = await authenticated("grace-old", { rooms: ["workshop"] });
      const heardByOutsider = [];
      outsider.socket.on("chat message", (m) => heardByOutsider.push(m.text));
      const inRoom = next(member.socket, "chat message");
      assert.deepEqual(await ack(member.socket, "chat message", { text: "hello room", room: "general" }), { ok: true });
      assert.equal((await inRoom).room, "general");
      assert.deepEqual(heardByOutsider, [], "only the room's members hear it");
      const revoked = next(member.socket, "unauthorized");
      assert.equal((await adminRevoke(demo.url, { sub: "frank-old" })).status, 200);
      assert.equal((await revoked).data.code, "revoked");
    });
  });
}

describe("handshake mode", () => {
  test("socket.io-client@4 + msgpack parser: the auth payload", async () => {
    const demo = await startDemo(["--mode", "handshake", "--parser", "msgpack"]);
    try {
      const open = (token) => {
        const socket = ioV4(demo.url, { transports: ["websocket"], parser: msgpackParser, forceNew: true, reconnection: false, auth: { token } });
        sockets.push(socket);
        return socket;
      };
      const good = open(testToken("hank-old"));
      assert.equal((await next(good, "authenticated")).sub, "hank-old");
      assert.equal((await good.timeout(WAIT).emitWithAck("whoami")).sub, "hank-old");
      const refreshed = next(good, "authenticated");
      good.emit("authenticate", { token: testToken("hank-old", { ttl: 900 }) });
      assert.equal((await refreshed).sub, "hank-old");
      const bad = open(testToken("hank-old", { key: "another-secret-0123456789abcdef0123" }));
      const err = await next(bad, "connect_error");
      assert.equal(err.message, "invalid_token", "the contract's connect_error: the code as message");
    } finally {
      await demo.stop();
    }
  });

  test("socket.io-client@2 has no auth payload: an Authorization header, refusals as `error`", async () => {
    const demo = await startDemo(["--mode", "handshake"]);
    try {
      const open = (token) => {
        const socket = ioV2(demo.url, {
          transports: ["websocket"],
          forceNew: true,
          reconnection: false,
          extraHeaders: { authorization: `Bearer ${token}` },
        });
        sockets.push(socket);
        return socket;
      };
      const good = open(testToken("ivy-old"));
      assert.equal((await next(good, "authenticated")).sub, "ivy-old");
      assert.equal((await ack(good, "whoami", {})).sub, "ivy-old");
      const bad = open(testToken("ivy-old", { key: "another-secret-0123456789abcdef0123" }));
      // Socket.IO v2 reports a refused namespace connection as `error` with the data.
      const err = await next(bad, "error");
      assert.equal(err.message, "invalid_token");
    } finally {
      await demo.stop();
    }
  });
});
