// The client helper against the real Rust demo server (chat-demo), with the real socket.io-client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { AuthError, AuthSocket } from "../dist/index.js";
import { createHmac, createPrivateKey, createPublicKey, sign as rsaSign } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { TEST_SECRET, adminSetRooms, login, startDemo, testToken, until } from "../../../e2e/node/demo-server.mjs";

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


for (const mode of ["message", "handshake"]) {
  test(`${mode} mode: an admin's room change reaches the open socket (request_refresh), no reload`, async () => {
    const demo = await startDemo(["--mode", mode]);
    try {
      let token = await login(demo.url, "alice", "wonderland");
      const reasons = [];
      const s = open(demo.url, {
        mode,
        getToken: async ({ reason }) => {
          reasons.push(reason);
          if (reason === "refresh") {
            const res = await fetch(`${demo.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
            token = (await res.json()).token;
          }
          return token;
        },
      });
      await s.authenticated();
      const sid = (t) => JSON.parse(Buffer.from(t.split(".")[1], "base64url")).sid;
      const loginSid = sid(token);
      const roomsNow = async () => (await s.socket.timeout(5000).emitWithAck("whoami")).rooms;
      assert.deepEqual(await roomsNow(), ["general", "tea-party"]);
      const authenticatedAgain = new Promise((resolve) => s.socket.once("authenticated", resolve));
      const res = await adminSetRooms(demo.url, { sub: "alice", rooms: ["general", "lab"] });
      assert.equal(res.status, 200, await res.text());
      await authenticatedAgain;
      assert.deepEqual(await roomsNow(), ["general", "lab"], "the fresh token's rooms, on the same socket");
      assert.deepEqual(reasons, ["connect", "refresh"]);
      assert.equal(s.state, "authenticated");
      // The login session id is kept across the refresh.
      assert.ok(typeof loginSid === "string" && loginSid.length >= 32, loginSid);
      assert.equal(sid(token), loginSid);
    } finally {
      await demo.stop();
    }
  });

  test(`${mode} mode: past --max-session-age-secs a refresh is refused, and the helper logs in again`, async () => {
    const demo = await startDemo(["--mode", mode, "--max-session-age-secs", "2"]);
    try {
      const first = await login(demo.url, "bob", "builder");
      const reasons = [];
      let fresh = null;
      const s = open(demo.url, {
        mode,
        getToken: async ({ reason }) => {
          reasons.push(reason);
          if (reason === "expired") fresh = await login(demo.url, "bob", "builder");
          return fresh ?? first;
        },
      });
      await s.authenticated();
      await new Promise((r) => setTimeout(r, 2200));
      // The same login's token, past the session's age: the server refuses it.
      const refused = new Promise((resolve) => s.socket.once("unauthorized", resolve));
      s.refresh().catch(() => {});
      assert.equal((await refused).code, "token_expired");
      await until(() => fresh !== null && s.state === "authenticated", "a new login");
      assert.ok(reasons.includes("expired"), JSON.stringify(reasons));
      const me = await s.socket.timeout(5000).emitWithAck("whoami");
      assert.equal(me.sub, "bob");
    } finally {
      await demo.stop();
    }
  });
}

const FIXTURES = new URL("../../../e2e/fixtures/", import.meta.url);
const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** A compact JWS made with node:crypto, independent of the server's implementation. */
function makeJwt(claims, { alg, key, kid }) {
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT", ...(kid ? { kid } : {}) }))}.${b64url(JSON.stringify(claims))}`;
  const signature =
    alg === "HS256"
      ? createHmac("sha256", key).update(input).digest()
      : rsaSign("sha256", Buffer.from(input), createPrivateKey(key));
  return `${input}.${b64url(signature)}`;
}

const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

test("demo flags: --issuer and --audience are put in tokens and required", async () => {
  const demo = await startDemo(["--issuer", "https://demo.test", "--audience", "chat"]);
  try {
    const token = await login(demo.url, "alice", "wonderland");
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
    assert.equal(claims.iss, "https://demo.test");
    assert.equal(claims.aud, "chat");
    assert.equal(claims.sub, "alice");
    await open(demo.url, { getToken: () => token }).authenticated();
    const noAud = makeJwt({ sub: "alice", exp: inAMinute(), iss: "https://demo.test" }, { alg: "HS256", key: TEST_SECRET });
    await assert.rejects(open(demo.url, { getToken: () => noAud }).authenticated(), (e) => e.code === "invalid_token");
  } finally {
    await demo.stop();
  }
});

test("demo flags: --public-key verifies RS256 tokens and disables /login", async () => {
  const demo = await startDemo(["--public-key", new URL("rsa_public.pem", FIXTURES).pathname]);
  try {
    const res = await fetch(`${demo.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    assert.equal(res.status, 501);
    const key = readFileSync(new URL("rsa_private.pem", FIXTURES));
    const rs256 = makeJwt({ sub: "bob", exp: inAMinute() }, { alg: "RS256", key });
    assert.equal((await open(demo.url, { getToken: () => rs256 }).authenticated()).sub, "bob");
    // The old shared secret no longer verifies anything.
    const hs256 = makeJwt({ sub: "bob", exp: inAMinute() }, { alg: "HS256", key: TEST_SECRET });
    await assert.rejects(open(demo.url, { getToken: () => hs256 }).authenticated(), (e) => e.code === "invalid_token");
    // A user of the identity provider the demo has no account for: its verified claims suffice
    // (the demo issued nothing; `--require-account` would ask for an account).
    const ghost = makeJwt({ sub: "ghost", exp: inAMinute() }, { alg: "RS256", key });
    assert.equal((await open(demo.url, { getToken: () => ghost }).authenticated()).sub, "ghost");
  } finally {
    await demo.stop();
  }
});

test("demo: malformed login body is 400, wrong password 401, with JSON errors", async () => {
  const demo = await startDemo();
  try {
    const post = (body, type = "application/json") =>
      fetch(`${demo.url}/login`, { method: "POST", headers: { "content-type": type }, body });
    const bad = await post('{"username": 1');
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, "bad_request");
    const wrong = await post(JSON.stringify({ username: "alice", password: "nope" }));
    assert.equal(wrong.status, 401);
    assert.equal((await wrong.json()).error, "invalid_credentials");
    const unknown = await post(JSON.stringify({ username: "nobody", password: "nope" }));
    assert.equal(unknown.status, 401);
  } finally {
    await demo.stop();
  }
});

test("demo flags: --allowed-origin refuses foreign origins, --max-pending caps waiting sockets", async () => {
  const { request } = await import("node:http");
  const demo = await startDemo(["--allowed-origin", "http://chat.test", "--max-pending", "2", "--auth-timeout-ms", "10000"]);
  try {
    const status = (origin) =>
      new Promise((resolve, reject) => {
        const req = request(`${demo.url}/socket.io/?EIO=4&transport=polling`, { headers: origin ? { origin } : {} }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on("error", reject);
        req.end();
      });
    assert.equal(await status("https://evil.test"), 403);
    assert.equal(await status("http://chat.test"), 200);
    assert.equal(await status(undefined), 200);

    // Two sockets wait without a token; the third is told `server_busy`, which is not final
    // (changed by issue 24: it used to end in `unauthorized`): it waits, with backoff, and gets in
    // once a place frees.
    const never = () => new Promise(() => {});
    const waiting = [open(demo.url, { getToken: never }), open(demo.url, { getToken: never })];
    await until(() => waiting.every((s) => s.state === "authenticating"), "two pending sockets");
    const states = [];
    const third = new AuthSocket({ url: demo.url, socketOptions: { transports: ["websocket"] }, getToken: () => testToken("carol") });
    sockets.push(third);
    third.onStateChange((state) => states.push(state));
    third.connect();
    await until(() => third.state === "waiting", "the third socket waiting");
    assert.equal(third.lastError?.code, "server_busy");
    // Still busy at the next try or two: it keeps waiting, never a loop without a delay.
    waiting[0].disconnect();
    const info = await third.authenticated();
    assert.equal(info.sub, "carol");
    assert.ok(states.includes("waiting") && !states.includes("unauthorized"), states.join(" -> "));
  } finally {
    await demo.stop();
  }
});

test("demo flags: --jwks FILE verifies tokens of an identity provider and disables /login", async () => {
  const jwk = createPublicKey(readFileSync(new URL("rsa_public.pem", FIXTURES))).export({ format: "jwk" });
  const file = join(mkdtempSync(join(tmpdir(), "jwks-")), "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [{ ...jwk, kid: "idp-1", alg: "RS256", use: "sig" }] }));
  const demo = await startDemo(["--jwks", file, "--audience", "chat-idp"]);
  try {
    const res = await fetch(`${demo.url}/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "alice", password: "wonderland" }) });
    assert.equal(res.status, 501);
    const key = readFileSync(new URL("rsa_private.pem", FIXTURES));
    // A user the demo's database has never seen: the identity provider vouches for it.
    const idpUser = makeJwt({ sub: "carol@idp", exp: inAMinute(), aud: "chat-idp" }, { alg: "RS256", key, kid: "idp-1" });
    assert.equal((await open(demo.url, { getToken: () => idpUser }).authenticated()).sub, "carol@idp");
    // A token the same provider issued for another of its clients.
    const otherApp = makeJwt({ sub: "carol@idp", exp: inAMinute(), aud: "billing" }, { alg: "RS256", key, kid: "idp-1" });
    await assert.rejects(open(demo.url, { getToken: () => otherApp }).authenticated(), (e) => e.code === "invalid_token");
    const unknownKid = makeJwt({ sub: "carol@idp", exp: inAMinute(), aud: "chat-idp" }, { alg: "RS256", key, kid: "idp-2" });
    await assert.rejects(open(demo.url, { getToken: () => unknownKid }).authenticated(), (e) => e.code === "invalid_token");
  } finally {
    await demo.stop();
  }
});

test("a client whose clock runs 10 minutes ahead keeps one socket across several refreshes (the server's clock counts)", async () => {
  const demo = await startDemo(["--expiry-warning-secs", "0"]);
  const realNow = Date.now;
  try {
    // Tokens are minted on the true clock; the helper sees a clock 10 minutes ahead.
    const mint = () => testToken("dora", { iat: Math.floor(realNow() / 1000), ttl: 8 });
    let refreshes = 0;
    Date.now = () => realNow() + 600_000;
    const auth = open(demo.url, {
      getToken: ({ reason }) => {
        if (reason === "refresh") refreshes += 1;
        return mint();
      },
    });
    const first = await auth.authenticated();
    const sid = auth.socket.id;
    assert.equal(first.sub, "dora");
    // Refreshes at half the remaining life by the server's clock: ~4 s apart, not every 500 ms.
    await until(() => refreshes >= 3, "three refreshes", 20_000);
    assert.ok(refreshes <= 5, `${refreshes} refreshes`);
    assert.equal(auth.state, "authenticated");
    assert.equal(auth.socket.id, sid, "the same socket all along");
    assert.equal(auth.lastError, null);
  } finally {
    Date.now = realNow;
    await demo.stop();
  }
});

test("an application's own refusal code (the demo's no_account) ends the helper in unauthorized, in both modes", async () => {
  for (const mode of ["message", "handshake"]) {
    const demo = await startDemo(["--mode", mode, "--require-account"]);
    try {
      const ghost = testToken("ghost");
      const auth = open(demo.url, { getToken: () => ghost, mode });
      await assert.rejects(auth.authenticated(), (e) => e instanceof AuthError && e.code === "no_account" && /no longer exists|no_account/.test(e.message));
      assert.equal(auth.state, "unauthorized", mode);
      assert.equal(auth.lastError?.code, "no_account");
    } finally {
      await demo.stop();
    }
  }
});
