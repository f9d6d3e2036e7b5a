// Who is an admin of the demo, and how long a revocation by `jti` lasts, with real processes and
// a loopback OpenID provider.
//
// Admin rights (`POST /admin/revoke`, `POST /admin/rooms`) come only from the demo's own tokens
// (its `iss`, its admin account) or from an issuer named with --admin-issuer: a provider's token
// claiming `roles: ["admin"]`, or a token signed with the shared --secret without the demo's
// `iss`, is refused with 403. A token revoked by `{ jti, exp }` stays refused until its own
// `exp`, long after --token-ttl-secs (the demo's own token lifetime) has passed, in one process
// and across processes on Redis (an instance started later loads it).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import {
  DEMO_ISSUER,
  adminRevoke,
  adminSetRooms,
  authenticatedSocket,
  jtiAndExp,
  login,
  refusalCode,
  revokedOn,
  startDemo,
  startRedis,
  testToken,
  until,
} from "./demo-server.mjs";
import { startProvider } from "./oidc-provider.mjs";

const AUDIENCE = "chat";
/** --token-ttl-secs of the instances that check how long a revocation lasts. */
const TTL = 2;
const providers = [];
const demos = [];
const sockets = [];
let redis;

const now = () => Math.floor(Date.now() / 1000);
/** The demo's flags that trust both providers. */
const oidcArgs = () => [...providers.flatMap((p) => ["--oidc-issuer", p.issuer]), "--audience", AUDIENCE];
const start = async (args) => {
  const demo = await startDemo(args);
  demos.push(demo);
  return demo;
};
/** `GET /api/me` with `token` → `{ status, code }`. */
async function me(url, token) {
  const res = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, code: (await res.json()).code };
}
/** The statuses of `/admin/revoke` and `/admin/rooms` with `admin` as the Bearer token. */
async function adminStatuses(url, admin) {
  const revoke = await adminRevoke(url, { sub: "nobody-in-particular" }, admin);
  const rooms = await adminSetRooms(url, { sub: "alice", rooms: ["general", "tea-party"] }, admin);
  const bodies = `revoke: ${await revoke.text()}; rooms: ${await rooms.text()}`;
  return { statuses: [revoke.status, rooms.status], bodies };
}

before(async () => {
  providers.push(await startProvider({ audience: AUDIENCE }), await startProvider({ audience: AUDIENCE }));
  redis = await startRedis();
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all(demos.map((d) => d.stop()));
  await redis?.cleanup();
  await Promise.all(providers.map((p) => p.close()));
});

test("a provider's token claiming roles [admin] is no demo admin: 403 on /admin/revoke and /admin/rooms", async () => {
  const [A] = providers;
  const demo = await start(oidcArgs());
  for (const claims of [{ roles: ["admin"] }, { role: "admin" }, { sub: "admin", roles: ["admin"] }]) {
    const { statuses, bodies } = await adminStatuses(demo.url, A.token(claims));
    assert.deepEqual(statuses, [403, 403], `${JSON.stringify(claims)}: ${bodies}`);
  }
  const refused = await adminRevoke(demo.url, { sub: "bob" }, A.token({ roles: ["admin"] }));
  assert.equal((await refused.json()).code, "forbidden");
  // The demo's own admin beside it.
  const own = await adminStatuses(demo.url, await login(demo.url, "admin", "admin-password"));
  assert.deepEqual(own.statuses, [200, 200], own.bodies);
});

test("a token signed with the shared --secret is an admin only with the demo's iss and the admin account", async () => {
  const demo = await start([]);
  // Another service sharing the secret: its tokens carry another or no iss.
  for (const token of [testToken("admin"), testToken("admin", { iss: "billing" })]) {
    const { statuses, bodies } = await adminStatuses(demo.url, token);
    assert.deepEqual(statuses, [403, 403], bodies);
  }
  // The demo's iss with the admin role, for a user who is no admin in its database.
  const alice = await adminStatuses(demo.url, testToken("alice", { iss: DEMO_ISSUER, role: "admin" }));
  assert.deepEqual(alice.statuses, [403, 403], alice.bodies);
  const own = await adminStatuses(demo.url, testToken("admin", { iss: DEMO_ISSUER }));
  assert.deepEqual(own.statuses, [200, 200], own.bodies);
});

test("--admin-issuer: that provider's tokens with the admin role are admins (200), another provider's are not", async () => {
  const [A, B] = providers;
  const demo = await start([...oidcArgs(), "--admin-issuer", A.issuer]);
  for (const claims of [{ roles: ["admin"] }, { role: "admin" }]) {
    const { statuses, bodies } = await adminStatuses(demo.url, A.token(claims));
    assert.deepEqual(statuses, [200, 200], `${JSON.stringify(claims)}: ${bodies}`);
  }
  for (const [why, token] of [
    ["A's token without the admin role", A.token({ roles: ["user"] })],
    ["B's token with the admin role", B.token({ roles: ["admin"] })],
    ["signed by B, claiming A's iss", B.token({ iss: A.issuer, roles: ["admin"] })],
  ]) {
    const res = await adminRevoke(demo.url, { sub: "nobody-in-particular" }, token);
    assert.ok([401, 403].includes(res.status), `${why}: ${res.status} ${await res.text()}`);
  }
  // The demo's own admin still is one.
  const own = await adminStatuses(demo.url, await login(demo.url, "admin", "admin-password"));
  assert.deepEqual(own.statuses, [200, 200], own.bodies);
});

test(`a token revoked by { jti, exp } stays refused until its exp, long after --token-ttl-secs ${TTL}`, async () => {
  const [A] = providers;
  const args = [...oidcArgs(), "--token-ttl-secs", String(TTL)];
  const [alone, onRedis, other] = await Promise.all([
    start(args),
    start([...args, ...redis.demoArgs()]),
    start([...args, ...redis.demoArgs()]),
  ]);
  // Stolen tokens living an hour, one revoked on the lone instance, one on the Redis pair.
  const stolen = [A.token({ sub: "thief-1", exp: now() + 3600 }), A.token({ sub: "thief-2", exp: now() + 3600 })];
  const bystander = A.token({ sub: "bystander", exp: now() + 3600 });
  const held = [await authenticatedSocket(alone.url, stolen[0], sockets), await authenticatedSocket(other.url, stolen[1], sockets)];
  for (const [demo, token] of [[alone, stolen[0]], [onRedis, stolen[1]]]) {
    // The demo's own admin token lives TTL seconds: used at once.
    const admin = await login(demo.url, "admin", "admin-password");
    const res = await adminRevoke(demo.url, jtiAndExp(token), admin);
    assert.equal(res.status, 200, await res.text());
  }
  const revokedAt = now();
  await until(() => held.every(revokedOn), "both holders disconnected with revoked");

  // Where each token must stay refused: the lone instance, and both instances on Redis.
  const checks = [[alone, stolen[0]], [onRedis, stolen[1]], [other, stolen[1]]];
  // A revocation kept for the TTL only is forgotten after the second revokedAt + TTL; poll
  // (bounded) until well past it, every answer a refusal.
  const pastTtl = (revokedAt + TTL + 2) * 1000;
  while (Date.now() < pastTtl) {
    for (const [demo, token] of checks) assert.deepEqual(await me(demo.url, token), { status: 401, code: "revoked" });
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const [demo, token] of checks) {
    assert.deepEqual(await me(demo.url, token), { status: 401, code: "revoked" }, `GET /api/me on ${demo.url}`);
    assert.equal(await refusalCode(demo.url, token, sockets), "revoked", `a socket on ${demo.url}`);
  }
  // An instance started now loads it from Redis.
  const late = await start([...args, ...redis.demoArgs()]);
  assert.equal(await refusalCode(late.url, stolen[1], sockets), "revoked", "loaded by an instance started after the TTL");
  // Not every token: another one of the same provider still works everywhere.
  for (const demo of [alone, onRedis, late]) {
    assert.equal((await me(demo.url, bystander)).status, 200);
    await authenticatedSocket(demo.url, bystander, sockets);
  }
});

test("/admin/revoke by jti needs the token's exp; { token } revokes a token handed in whole", async () => {
  const [A, B] = providers;
  const demo = await start([...oidcArgs(), "--admin-issuer", A.issuer]);
  const admin = A.token({ sub: "ops", roles: ["admin"] });
  const revoke = async (body) => {
    const res = await adminRevoke(demo.url, body, admin);
    return { status: res.status, body: await res.json() };
  };
  for (const [why, body] of [
    ["no exp", { jti: "j1" }],
    ["exp a string", { jti: "j1", exp: String(now() + 60) }],
    ["exp a fraction", { jti: "j1", exp: now() + 60.5 }],
    ["exp negative", { jti: "j1", exp: -1 }],
    ["exp with sub", { sub: "bob", exp: now() + 60 }],
    ["token with jti", { token: A.token({}), jti: "j1" }],
    ["a token that is no JWT", { token: "not-a-token" }],
    ["a token of an issuer the demo does not trust", { token: testToken("alice", { iss: "https://elsewhere.example" }) }],
  ]) {
    const res = await revoke(body);
    assert.equal(res.status, 400, `${why}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, "bad_request", why);
  }
  const missing = await revoke({ jti: "j1" });
  assert.match(missing.body.message, /"exp"/, "the message names what is missing");

  // Already expired: nothing to revoke, and the answer says so.
  const past = await revoke({ jti: "j-old", exp: now() - 60 });
  assert.equal(past.status, 200, JSON.stringify(past.body));
  assert.equal(past.body.expired, true);
  const expired = await revoke({ token: A.token({ exp: now() - 60 }) });
  assert.equal(expired.status, 200, JSON.stringify(expired.body));
  assert.equal(expired.body.expired, true);

  // A token handed in whole: verified, then revoked by its jti until its exp.
  const stolen = B.token({ sub: "thief-3", exp: now() + 3600 });
  const holder = await authenticatedSocket(demo.url, stolen, sockets);
  const res = await revoke({ token: stolen });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.revoked, jtiAndExp(stolen));
  await until(() => revokedOn(holder), "the holder disconnected with revoked");
  assert.deepEqual(await me(demo.url, stolen), { status: 401, code: "revoked" });
  // Handed in again: refused as revoked already, the answer says why.
  const again = await revoke({ token: stolen });
  assert.equal(again.status, 400);
  assert.match(again.body.message, /revoked/);
});
