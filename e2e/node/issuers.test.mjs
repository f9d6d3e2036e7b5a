// Two OpenID providers on loopback (discovery and JWKS served here), both publishing a key with
// kid "1", each with its own key; two chat-demo instances on one Redis (message mode and
// handshake mode) started with --oidc-issuer for both, beside their own /login, and
// --oidc-client-id for back-channel logout.
//
// Each provider's tokens authenticate, a token signed with A's key that claims B's iss does not,
// nor one without iss. Identity is (iss, sub): 42 of A revoked leaves 42 of B. A back-channel
// logout posted to one instance disconnects the sockets of the login session (sid) or of the
// user (sub) it names on both, and a replayed logout token is refused.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import {
  adminRevoke,
  authenticatedSocket,
  handshakeSocket,
  login,
  refusalCode,
  revokedOn,
  startDemo,
  startRedis,
  until,
} from "./demo-server.mjs";
import { postLogout, startProvider } from "./oidc-provider.mjs";

const AUDIENCE = "chat";
const providers = [];
let redis;
let demo; // message mode
let other; // handshake mode, another process
const sockets = [];

before(async () => {
  providers.push(await startProvider({ audience: AUDIENCE }), await startProvider({ audience: AUDIENCE }));
  redis = await startRedis();
  const args = (mode) => [
    ...redis.demoArgs(),
    ...providers.flatMap((p) => ["--oidc-issuer", p.issuer]),
    "--audience", AUDIENCE,
    "--oidc-client-id", "chat-web",
    "--mode", mode,
  ];
  [demo, other] = await Promise.all([startDemo(args("message")), startDemo(args("handshake"))]);
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all([demo?.stop(), other?.stop()]);
  await redis?.cleanup();
  await Promise.all(providers.map((p) => p.close()));
});

const refusal = (url, token) => refusalCode(url, token, sockets);


/** A socket of `token` on the message-mode instance or the handshake-mode one. */
const on = (instance, token) =>
  instance === demo ? authenticatedSocket(demo.url, token, sockets) : handshakeSocket(other.url, token, sockets);

/** Whether `socket` still answers as an authenticated socket (a `whoami` round trip). */
async function stillIn(socket) {
  if (!socket.connected || revokedOn(socket)) return false;
  const me = await socket.timeout(5000).emitWithAck("whoami");
  return typeof me?.sub === "string";
}

test("each provider's tokens work, with the same kid and different keys; the demo's own login beside them", async () => {
  const [A, B] = providers;
  await authenticatedSocket(demo.url, A.token({}), sockets);
  await authenticatedSocket(demo.url, B.token({}), sockets);
  const own = await login(demo.url, "alice", "wonderland");
  await authenticatedSocket(demo.url, own, sockets);
  await handshakeSocket(other.url, A.token({}), sockets);
});

test("a token signed with A's key that claims B's iss is refused, and so is one without iss", async () => {
  const [A, B] = providers;
  assert.equal(await refusal(demo.url, A.token({ iss: B.issuer })), "invalid_token");
  assert.equal(await refusal(demo.url, A.token({ iss: undefined })), "invalid_token");
  assert.equal(await refusal(demo.url, A.token({ iss: "https://idp.elsewhere.example" })), "invalid_token");
  // A's own token for another of A's clients.
  assert.equal(await refusal(demo.url, A.token({ aud: "billing" })), "invalid_token");
  // A logout token is never a credential, even for an audience the demo accepts.
  assert.equal(await refusal(demo.url, A.logoutToken({ sub: "42", aud: AUDIENCE })), "invalid_token");
});

test("user 42 of A revoked on one instance leaves 42 of B connected on both", async () => {
  const [A, B] = providers;
  const a42 = [await on(demo, A.token({ sub: "u42" })), await on(other, A.token({ sub: "u42" }))];
  const b42 = [await on(demo, B.token({ sub: "u42" })), await on(other, B.token({ sub: "u42" }))];
  const res = await adminRevoke(demo.url, { sub: "u42", iss: A.issuer });
  assert.equal(res.status, 200, await res.text());
  await until(() => a42.every(revokedOn), "A's u42 revoked on both instances");
  for (const s of b42) assert.ok(await stillIn(s), "B's u42 is another user");
  // The per-user rooms tell them apart too: presence lists iss#sub.
  const presence = await new Promise((resolve) => {
    b42[0].once("presence", resolve);
    authenticatedSocket(demo.url, B.token({ sub: "u42-peer" }), sockets);
  });
  assert.ok(presence.users.includes(`${B.issuer}#u42`), JSON.stringify(presence));
  assert.ok(!presence.users.includes("u42"), "never the bare sub with several issuers");
});

test("a back-channel logout by sid ends that login session's sockets on both instances, not another session's or issuer's", async () => {
  const [A, B] = providers;
  const s1 = [await on(demo, A.token({ sub: "u7", sid: "s1" })), await on(other, A.token({ sub: "u7", sid: "s1" }))];
  const s2 = await on(other, A.token({ sub: "u7", sid: "s2" }));
  const bs1 = await on(demo, B.token({ sub: "u7", sid: "s1" }));
  const logout = A.logoutToken({ sid: "s1", sub: "u7" });
  const res = await postLogout(other.url, logout);
  assert.deepEqual([res.status, res.cacheControl], [200, "no-store"], JSON.stringify(res.body));
  await until(() => s1.every(revokedOn), "both sockets of session s1 revoked");
  assert.ok(await stillIn(s2), "another login of the same user");
  assert.ok(await stillIn(bs1), "B's s1 is another provider's session");
  // A token refreshed from that session later is refused too; a replay of the logout is refused.
  assert.equal(await refusal(demo.url, A.token({ sub: "u7", sid: "s1", iat: Math.floor(Date.now() / 1000) + 1 })), "revoked");
  const replay = await postLogout(demo.url, logout);
  assert.equal(replay.status, 400, "a replay, to the other instance");
  assert.equal(replay.body.error, "invalid_request");
});

test("a back-channel logout by sub ends the user's sockets at that issuer, issued until the logout", async () => {
  const [A, B] = providers;
  const a = [await on(demo, A.token({ sub: "u9", sid: "x" })), await on(other, A.token({ sub: "u9", sid: "y" }))];
  const b = await on(other, B.token({ sub: "u9" }));
  const iat = Math.floor(Date.now() / 1000);
  const res = await postLogout(demo.url, A.logoutToken({ sub: "u9", sid: undefined, iat }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  await until(() => a.every(revokedOn), "A's u9 revoked on both instances");
  assert.ok(await stillIn(b), "B's u9 stays");
  // A login after the logout works.
  await on(other, A.token({ sub: "u9", iat: iat + 1 }));
});

test("invalid logout tokens get 400 and end nothing", async () => {
  const [A, B] = providers;
  const witness = await on(other, A.token({ sub: "u11", sid: "w" }));
  const invalid = [
    ["an access token's audience", A.logoutToken({ sid: "w", aud: AUDIENCE })],
    ["signed by B, claiming A", B.logoutToken({ sid: "w", iss: A.issuer })],
    ["an ID token (nonce)", A.logoutToken({ sid: "w", nonce: "n" })],
    ["no events", A.logoutToken({ sid: "w", events: undefined })],
    ["neither sid nor sub", A.logoutToken({})],
    ["expired", A.logoutToken({ sid: "w", exp: Math.floor(Date.now() / 1000) - 300 })],
    ["an access token", A.token({ sub: "u11" })],
    ["garbage", "not-a-token"],
  ];
  for (const [why, token] of invalid) {
    const res = await postLogout(demo.url, token);
    assert.equal(res.status, 400, `${why}: ${JSON.stringify(res.body)}`);
  }
  const noField = await postLogout(demo.url, null, new URLSearchParams({ token: "x" }));
  assert.equal(noField.status, 400, "no logout_token field");
  assert.ok(await stillIn(witness), "nothing was revoked");
});
