// The client helper against the real Rust demo server (chat-demo), with the real socket.io-client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { AuthError, AuthSocket } from "../dist/index.js";
import { login, startDemo, until } from "../../../e2e/node/demo-server.mjs";

const sockets = [];
function open(url, options) {
  const auth = new AuthSocket({
    url,
    socketOptions: { transports: ["websocket"], reconnectionDelay: 50, reconnectionDelayMax: 100 },
    ...options,
  });
  sockets.push(auth);
  return auth.connect();
}

after(() => {
  for (const s of sockets) s.disconnect();
});

for (const mode of ["message", "handshake"]) {
  describe(`${mode} mode`, () => {
    let demo;
    before(async () => {
      demo = await startDemo(["--mode", mode]);
    });
    after(() => demo.stop());

    test("authenticates with the token from /login, then chats", async () => {
      const alice = await login(demo.url, "alice", "wonderland");
      const bob = await login(demo.url, "bob", "builder");
      const a = open(demo.url, { mode, getToken: () => alice });
      const b = open(demo.url, { mode, getToken: () => bob });
      assert.equal((await a.authenticated()).sub, "alice");
      assert.equal((await b.authenticated()).sub, "bob");
      const me = await a.socket.timeout(5000).emitWithAck("whoami");
      assert.equal(me.sub, "alice");
      const received = new Promise((resolve) => b.socket.once("chat message", resolve));
      a.socket.emit("chat message", { text: "hi bob" });
      assert.deepEqual(await received, { from: "alice", text: "hi bob" });
    });

    test("a bad token rejects with the contract's code", async () => {
      const good = await login(demo.url, "alice", "wonderland");
      const tampered = good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA");
      const s = open(demo.url, { mode, getToken: () => tampered });
      await assert.rejects(s.authenticated(), (e) => e instanceof AuthError && e.code === "invalid_token" && e.data.type === "UnauthorizedError");
      assert.equal(s.state, "unauthorized");
      const garbage = open(demo.url, { mode, getToken: () => "garbage" });
      await assert.rejects(garbage.authenticated(), (e) => e.code === "credentials_bad_format");
    });

    test("every reconnect authenticates again with a current token", async () => {
      const reasons = [];
      const token = await login(demo.url, "alice", "wonderland");
      const s = open(demo.url, {
        mode,
        getToken: ({ reason }) => {
          reasons.push(reason);
          return token;
        },
      });
      await s.authenticated();
      s.socket.io.engine.close(); // a network failure: socket.io-client reconnects
      await until(() => s.state !== "authenticated", "the drop to be seen");
      const again = await s.authenticated();
      assert.equal(again.sub, "alice");
      assert.deepEqual(reasons, ["connect", "reconnect"]);
    });
  });
}

test("refreshes in-band before expiry and stays connected", async () => {
  const demo = await startDemo(["--token-ttl-secs", "3"]);
  try {
    let token = await login(demo.url, "bob", "builder");
    let refreshed = 0;
    const s = open(demo.url, {
      getToken: async ({ reason }) => {
        if (reason === "refresh") {
          const res = await fetch(`${demo.url}/token/refresh`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
          });
          token = (await res.json()).token;
          refreshed += 1;
        }
        return token;
      },
    });
    const first = await s.authenticated();
    const states = [];
    s.onStateChange((state) => states.push(state));
    // Past the first token's expiry (3 s), twice over.
    await until(() => refreshed >= 3 && s.info.exp > first.exp + 1, "three refreshes", 15_000);
    assert.equal(s.state, "authenticated");
    assert.deepEqual(states, [], "the socket never left the authenticated state");
    const me = await s.socket.timeout(5000).emitWithAck("whoami");
    assert.equal(me.sub, "bob");
  } finally {
    await demo.stop();
  }
});
