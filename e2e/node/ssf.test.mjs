// The demo as an OpenID Shared Signals Framework (SSF 1.0) receiver, end to end. Two transmitters
// on loopback, each also the OpenID provider of the access tokens it sends events about: one
// pushes (RFC 8935), one is polled (RFC 8936). Per delivery mode, two chat-demo instances on one
// Redis (message mode and handshake mode) trusting both providers' tokens and that mode's
// transmitter (`--ssf-transmitter`), with stock socket.io-client sockets on both.
//
// CAEP session-revoked ends a session's sockets (complex subject with the session) or a user's
// issued before its event_timestamp; credential-change and the RISC credential-compromise,
// account-disabled, account-purged and sessions-revoked end the user's sockets at that issuer;
// token-claims-change and assurance-level-change ask the user's sockets to refresh (the
// contract's forced refresh: `token_expiring` with `expires_in_ms: 0`), leaving them connected.
// All on both instances, whichever received the SET. Events the demo does not act on are accepted
// and end nothing. Refused SETs (RFC 8935 §2.3 codes: a push's 400 `{ err, description }`, a
// poll's `setErrs`) end nothing either; applied and ignored ones are acknowledged when polled.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { authenticatedSocket, handshakeSocket, refusalCode, revokedOn, startDemo, startRedis, until } from "./demo-server.mjs";
import {
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  ACCOUNT_PURGED,
  ASSURANCE_LEVEL_CHANGE,
  CREDENTIAL_CHANGE,
  CREDENTIAL_COMPROMISE,
  DEVICE_COMPLIANCE_CHANGE,
  SESSION_REVOKED,
  SESSIONS_REVOKED,
  TOKEN_CLAIMS_CHANGE,
  VERIFICATION,
  jtiOf,
  push,
  startTransmitter,
} from "./ssf-transmitter.mjs";

const AUDIENCE = "chat";
const PUSH_TOKEN = "ssf-push-secret";
const POLL_TOKEN = "ssf-poll-secret";
const MODES = ["push", "poll"];
/** The demo applies an event on every instance within 1 s (after the 202, or the poll's ack). */
const EFFECT_MS = 1_000;
/** How long sockets must stay untouched after events that must change nothing (the 1 s above). */
const QUIET_MS = 1_000;
/** How long a polled SET may take to be acknowledged or reported. */
const ANSWER_MS = 10_000;

let redis;
const sockets = [];
/**
 * Per delivery mode: `t` the transmitter (the tokens' issuer too), `demo` (message mode) and
 * `other` (handshake mode), two instances on the one Redis.
 */
const setups = { push: {}, poll: {} };

before(async () => {
  redis = await startRedis();
  [setups.push.t, setups.poll.t] = await Promise.all([
    startTransmitter({ audience: AUDIENCE, delivery: ["push"] }),
    // Each SET handed to one of the two polling instances (handed out again only if not answered
    // within 5 s, five times what the demo promises): the other must hear of it through Redis.
    // Polls held 2 s, well within any sensible client timeout of the demo's, so that no answer
    // is lost to a poll the demo gave up on meanwhile.
    startTransmitter({
      audience: AUDIENCE,
      delivery: ["poll"],
      pollToken: POLL_TOKEN,
      redeliverAfterMs: 5_000,
      longPollMs: 2_000,
    }),
  ]);
  const args = (mode, authMode) => [
    ...redis.demoArgs(),
    ...MODES.flatMap((m) => ["--oidc-issuer", setups[m].t.issuer]),
    "--audience", AUDIENCE,
    "--ssf-transmitter", setups[mode].t.issuer,
    ...(mode === "push" ? ["--ssf-push-token", PUSH_TOKEN] : ["--ssf-poll-token", POLL_TOKEN]),
    "--mode", authMode,
  ];
  const started = await Promise.allSettled(
    MODES.flatMap((mode) => [startDemo(args(mode, "message")), startDemo(args(mode, "handshake"))]),
  );
  [setups.push.demo, setups.push.other, setups.poll.demo, setups.poll.other] = started.map((s) => s.value);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all(MODES.flatMap((m) => [setups[m].demo?.stop(), setups[m].other?.stop()]));
  await redis?.cleanup();
  await Promise.all(MODES.map((m) => setups[m].t?.close()));
});

/** Seconds since the epoch. */
const now = () => Math.floor(Date.now() / 1000);

let serial = 0;
/** A subject no other case uses. */
const fresh = (mode, what) => `${mode}-${what}-${++serial}`;

/** Token claims for `sub` issued 10 s ago: before any event a case sends. */
const earlier = (sub, claims = {}) => ({ sub, iat: now() - 10, ...claims });


/**
 * Two sockets of a token of `mode`'s issuer with `claims` (one token each): on `demo`
 * (message mode: `authenticate` after connecting) and on `other` (handshake mode).
 */
async function onBoth(mode, claims) {
  const { t, demo, other } = setups[mode];
  return [await authenticatedSocket(demo.url, t.token(claims), sockets), await handshakeSocket(other.url, t.token(claims), sockets)];
}

/** Whether `socket` still answers as an authenticated socket (a `whoami` round trip). */
async function stillIn(socket) {
  if (!socket.connected || revokedOn(socket)) return false;
  const me = await socket.timeout(5000).emitWithAck("whoami");
  return typeof me?.sub === "string";
}

/** Whether `socket` heard `unauthorized` with `revoked`, then was disconnected. */
const endedRevoked = (socket) => revokedOn(socket) && !socket.connected;

/** Whether `socket` was asked to refresh now (CONTRACT.md, forced refresh): `token_expiring`, `expires_in_ms: 0`. */
const askedToRefresh = (socket) =>
  socket.received.some((m) => m.event === "token_expiring" && m.args[0]?.expires_in_ms === 0);

/** The URL of the push endpoint of `mode`'s instance `to` ("demo" or "other"). */
const pushUrl = (to) => `${setups.push[to].url}/ssf/events`;

/**
 * Delivers `set` as the demo must accept it: pushed to instance `to`, `202`; polled, until the
 * transmitter records its `ack` (failing at once if it is reported in `setErrs` instead).
 */
async function accepted(mode, set, to = "demo") {
  if (mode === "push") {
    const res = await push(pushUrl(to), set, { token: PUSH_TOKEN });
    assert.equal(res.status, 202, `the SET must be accepted: ${JSON.stringify(res.body)}`);
    return;
  }
  const { t } = setups.poll;
  const acks = t.acks.length;
  const jti = t.enqueue(set);
  await until(
    () => {
      if (t.acks.slice(acks).includes(jti)) return true;
      if (t.setErrs[jti]) assert.fail(`the SET must be acknowledged, not reported: ${JSON.stringify(t.setErrs[jti])}`);
      return false;
    },
    `the demo to acknowledge SET ${jti} when polling`,
    ANSWER_MS,
  );
}

/**
 * Delivers `body` as the demo must refuse it with `err` (`why` names the case): pushed to
 * instance `to`, `400` `{ err, description }`; polled (under `jti`: the SET's own by default),
 * reported in `setErrs` with `err` and never acknowledged. `contentType`: of the push.
 */
async function refused(mode, body, err, why, { to = "demo", jti, contentType } = {}) {
  if (mode === "push") {
    const res = await push(pushUrl(to), body, { token: PUSH_TOKEN, contentType });
    assert.equal(res.status, 400, `${why}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body?.err, err, `${why}: ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.description, "string", `${why}: a description`);
    return;
  }
  const { t } = setups.poll;
  const acks = t.acks.length;
  const key = t.enqueue(body, jti ?? jtiOf(body));
  assert.equal(t.setErrs[key], undefined, `${why}: a jti not reported before`);
  await until(
    () => {
      if (t.setErrs[key] !== undefined) return true;
      if (t.acks.slice(acks).includes(key)) assert.fail(`${why}: acknowledged, not reported in setErrs`);
      return false;
    },
    `the demo to report ${why} in setErrs when polling`,
    ANSWER_MS,
  );
  assert.equal(t.setErrs[key].err, err, `${why}: ${JSON.stringify(t.setErrs[key])}`);
}

/** The events that end a user's sockets at the issuer (tokens issued before the event). */
const USER_REVOCATIONS = [
  ["CAEP credential-change", { [CREDENTIAL_CHANGE]: { credential_type: "password", change_type: "update" } }],
  ["RISC credential-compromise", { [CREDENTIAL_COMPROMISE]: { credential_type: "password" } }],
  ["RISC account-disabled", { [ACCOUNT_DISABLED]: { reason: "hijacking" } }],
  ["RISC account-purged", { [ACCOUNT_PURGED]: {} }],
  ["RISC sessions-revoked", { [SESSIONS_REVOKED]: {} }],
];

/** The events that ask a user's sockets to refresh. */
const REFRESH_REQUESTS = [
  ["CAEP token-claims-change", { [TOKEN_CLAIMS_CHANGE]: { claims: { role: "reader" } } }],
  [
    "CAEP assurance-level-change",
    { [ASSURANCE_LEVEL_CHANGE]: { namespace: "NIST-AAL", current_level: "nist-aal1", previous_level: "nist-aal2", change_direction: "decrease" } },
  ],
];

for (const mode of MODES) {
  const delivered = mode === "push" ? "pushed to one instance" : "polled";

  test(`${mode}: CAEP session-revoked for a session (complex subject), ${delivered}, ends its sockets on both instances, not another session's`, async () => {
    const { t, other } = setups[mode];
    const sub = fresh(mode, "session");
    const [sid, otherSid] = [`${sub}-a`, `${sub}-b`];
    const session = await onBoth(mode, earlier(sub, { sid }));
    const otherSession = await handshakeSocket(other.url, t.token(earlier(sub, { sid: otherSid })), sockets);
    const subject = t.complex({ user: t.issSub(sub), session: t.opaque(sid) });
    await accepted(mode, t.set(SESSION_REVOKED, { sub_id: subject }), "other");
    await until(() => session.every(endedRevoked), `session ${sid}'s sockets revoked on both instances`, EFFECT_MS);
    assert.ok(await stillIn(otherSession), "another session of the same user stays");
    // Beyond the sockets: a token of that session issued before the event is refused from now on.
    assert.equal(await refusalCode(setups[mode].demo.url, t.token(earlier(sub, { sid })), sockets), "revoked");
  });

  test(`${mode}: CAEP session-revoked for a user ends the sockets of tokens issued before its event_timestamp, on both instances`, async () => {
    const { t, other } = setups[mode];
    const sub = fresh(mode, "user-sessions");
    const stamp = now() - 5;
    const before = await onBoth(mode, { sub, iat: stamp - 5 });
    const since = await handshakeSocket(other.url, t.token({ sub, iat: stamp + 3 }), sockets);
    await accepted(mode, t.set({ [SESSION_REVOKED]: { event_timestamp: stamp } }, { sub_id: t.issSub(sub) }));
    await until(() => before.every(endedRevoked), "the user's earlier sockets revoked on both instances", EFFECT_MS);
    assert.ok(await stillIn(since), "a token issued after event_timestamp stays");
  });

  test(`${mode}: credential-change and the RISC revocations end the user's sockets at that issuer on both instances, no one else's`, async () => {
    const { t, demo } = setups[mode];
    const otherIssuer = setups[MODES.find((m) => m !== mode)].t;
    const cases = [];
    for (const [name, events] of USER_REVOCATIONS) {
      const sub = fresh(mode, "revoked");
      cases.push({ name, sub, sockets: await onBoth(mode, earlier(sub)), set: t.set(events, { sub_id: t.issSub(sub) }) });
    }
    const bystanders = await onBoth(mode, earlier(fresh(mode, "bystander")));
    // The same sub at the other provider is another user.
    const namesake = await authenticatedSocket(demo.url, otherIssuer.token(earlier(cases[0].sub)), sockets);
    for (const [i, c] of cases.entries()) await accepted(mode, c.set, i % 2 === 0 ? "demo" : "other");
    for (const c of cases) {
      await until(() => c.sockets.every(endedRevoked), `${c.name}: the user's sockets revoked on both instances`, EFFECT_MS);
    }
    for (const s of bystanders) assert.ok(await stillIn(s), "another user stays");
    assert.ok(await stillIn(namesake), "the same sub at another issuer stays");
    // Beyond the sockets: a token issued before the event is refused from now on.
    assert.equal(await refusalCode(demo.url, t.token(earlier(cases[0].sub)), sockets), "revoked");
  });

  test(`${mode}: token-claims-change and assurance-level-change ask the user's sockets to refresh, on both instances; they stay`, async () => {
    const { t } = setups[mode];
    const cases = [];
    for (const [name, events] of REFRESH_REQUESTS) {
      const sub = fresh(mode, "refresh");
      cases.push({ name, sub, sockets: await onBoth(mode, { sub }), set: t.set(events, { sub_id: t.issSub(sub) }) });
    }
    const bystanders = await onBoth(mode, { sub: fresh(mode, "bystander") });
    for (const [i, c] of cases.entries()) await accepted(mode, c.set, i % 2 === 0 ? "other" : "demo");
    for (const c of cases) {
      await until(() => c.sockets.every(askedToRefresh), `${c.name}: token_expiring (expires_in_ms 0) on both instances`, EFFECT_MS);
    }
    for (const c of cases) for (const s of c.sockets) assert.ok(await stillIn(s), `${c.name}: still connected`);
    // A round trip on each bystander first: a refresh request sent to them would arrive before its answer.
    for (const s of bystanders) assert.ok(await stillIn(s));
    assert.ok(!bystanders.some(askedToRefresh), "another user is not asked");
    // The answer the request expects: an in-band refresh with a token issued now.
    const [socket] = cases[0].sockets;
    assert.deepEqual(await socket.timeout(5000).emitWithAck("authenticate", { token: t.token({ sub: cases[0].sub }) }), { ok: true });
    assert.ok(await stillIn(socket), "refreshed");
  });

  test(`${mode}: events the demo does not act on are accepted and end nothing`, async () => {
    const { t } = setups[mode];
    const sub = fresh(mode, "ignored");
    const witnesses = await onBoth(mode, earlier(sub));
    const user = { sub_id: t.issSub(sub) };
    const ignored = [
      t.set({ [DEVICE_COMPLIANCE_CHANGE]: { previous_status: "compliant", current_status: "not-compliant" } }, user),
      t.set({ [ACCOUNT_ENABLED]: {} }, user),
      // Unsolicited (sent without a request), hence without state (SSF 1.0 §8.1.4.2).
      t.set({ [VERIFICATION]: {} }, { sub_id: t.opaque("s1") }),
    ];
    for (const [i, set] of ignored.entries()) await accepted(mode, set, i % 2 === 0 ? "demo" : "other");
    await new Promise((r) => setTimeout(r, QUIET_MS)); // nothing to await: what must not happen
    for (const s of witnesses) {
      assert.ok(await stillIn(s), "the user's sockets stay");
      assert.ok(!askedToRefresh(s), "and are not asked to refresh");
    }
  });

  test(`${mode}: refused SETs get the RFC 8935 error code and end nothing`, async () => {
    const { t } = setups[mode];
    const otherTransmitter = setups[MODES.find((m) => m !== mode)].t;
    const sub = fresh(mode, "witness");
    const witnesses = await onBoth(mode, earlier(sub));
    /** A SET that would end the witness's sockets, with `claims` over it. */
    const revoking = (claims = {}) => t.set(ACCOUNT_DISABLED, { sub_id: t.issSub(sub), ...claims });

    await refused(mode, revoking({ aud: "billing" }), "invalid_audience", "another audience");
    await refused(mode, t.otherKeySet(ACCOUNT_DISABLED, { sub_id: t.issSub(sub) }), "invalid_key", "signed with a key the transmitter does not publish");
    await refused(mode, revoking({ iss: "https://transmitter.elsewhere.example" }), "invalid_issuer", "an iss that is no transmitter");
    await refused(
      mode,
      otherTransmitter.set(ACCOUNT_DISABLED, { sub_id: t.issSub(sub) }),
      "invalid_issuer",
      "a transmitter this instance is not configured with (its issuer is only an OpenID provider here)",
      { to: "other" },
    );
    await refused(mode, revoking({ iat: now() + 3600 }), "invalid_request", "iat in the future");
    await refused(mode, revoking({ events: undefined }), "invalid_request", "no events");
    await refused(mode, revoking({ jti: undefined }), "invalid_request", "no jti", { jti: `${sub}-no-jti` });
    await refused(mode, "not-a-jwt", "invalid_request", "a body that is not a JWT", { jti: `${sub}-not-a-jwt` });
    await refused(mode, t.token({ sub }), "invalid_request", "an access token of the same issuer (typ JWT), not a SET");

    // A replay (the same iss and jti) is refused when pushed, on another instance too
    // (remembered in Redis). Polled, it is acknowledged again and not applied again: a SET
    // handed out twice (two instances polling one stream, an instance that applied it and
    // stopped before acknowledging) was received, not refused.
    const once = t.set(ACCOUNT_DISABLED, { sub_id: t.issSub(fresh(mode, "replayed")) });
    await accepted(mode, once, "demo");
    if (mode === "push") await refused(mode, once, "invalid_request", "a replayed SET", { to: "other" });
    else await accepted(mode, once);

    if (mode === "push") {
      await refused(mode, "", "invalid_request", "an empty body");
      await refused(mode, revoking(), "invalid_request", "Content-Type application/json", { contentType: "application/json" });
      for (const [why, token] of [["without a bearer token", undefined], ["with another bearer token", "nope"]]) {
        const res = await push(pushUrl("other"), revoking(), { token });
        assert.equal(res.status, 401, `${why}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body?.err, "authentication_failed", why);
      }
    }
    await new Promise((r) => setTimeout(r, QUIET_MS)); // nothing to await: what must not happen
    for (const s of witnesses) assert.ok(await stillIn(s), "the targeted user's sockets stay");
  });
}
