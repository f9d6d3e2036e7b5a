// An OpenID Shared Signals Framework (SSF 1.0) transmitter on loopback for the tests, which is
// also the OpenID provider whose access tokens the demo accepts (one issuer for both, as an
// identity provider that transmits events about its own users):
// - OpenID discovery and a JWKS with the access-token key (ES256, kid "1"), like oidc-provider.mjs;
// - SSF discovery (`/.well-known/ssf-configuration`), the SET key (ES256, kid "ssf-1") at
//   `/ssf/jwks.json`, one stream (`/ssf/stream`), the verification endpoint (`/ssf/verify`);
// - poll delivery (RFC 8936) at `/ssf/poll`, recording every acknowledgement and error report;
// - `push` (RFC 8935) to a receiver's endpoint.
// Run it (`node ssf-transmitter.mjs`) to run its own checks.
import { createServer } from "node:http";
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from "node:crypto";
import { fileURLToPath } from "node:url";

/** Delivery method URIs (SSF 1.0 §7.1.1): push (RFC 8935) and poll (RFC 8936). */
export const PUSH_METHOD = "urn:ietf:rfc:8935";
export const POLL_METHOD = "urn:ietf:rfc:8936";

const CAEP = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC = "https://schemas.openid.net/secevent/risc/event-type/";

/** CAEP event types. */
export const SESSION_REVOKED = `${CAEP}session-revoked`;
export const TOKEN_CLAIMS_CHANGE = `${CAEP}token-claims-change`;
export const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
export const ASSURANCE_LEVEL_CHANGE = `${CAEP}assurance-level-change`;
export const DEVICE_COMPLIANCE_CHANGE = `${CAEP}device-compliance-change`;
/** RISC event types. */
export const CREDENTIAL_COMPROMISE = `${RISC}credential-compromise`;
export const ACCOUNT_DISABLED = `${RISC}account-disabled`;
export const ACCOUNT_PURGED = `${RISC}account-purged`;
export const SESSIONS_REVOKED = `${RISC}sessions-revoked`;
export const ACCOUNT_ENABLED = `${RISC}account-enabled`;
/** The SSF verification event (SSF 1.0 §8.1.4.1). */
export const VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification";

/** Every event type above: the stream's `events_supported` / `events_delivered`. */
export const EVENT_TYPES = [
  SESSION_REVOKED, TOKEN_CLAIMS_CHANGE, CREDENTIAL_CHANGE, ASSURANCE_LEVEL_CHANGE, DEVICE_COMPLIANCE_CHANGE,
  CREDENTIAL_COMPROMISE, ACCOUNT_DISABLED, ACCOUNT_PURGED, SESSIONS_REVOKED, ACCOUNT_ENABLED, VERIFICATION,
];

/** Subject identifiers (RFC 9493): an email address. */
export const email = (address) => ({ format: "email", email: address });
/** An opaque identifier (a session id, a stream id). */
export const opaque = (id) => ({ format: "opaque", id });
/**
 * A complex subject (SSF 1.0 §3.3): simple subjects as the members `user`, `session`, `device`,
 * `tenant`…, beside `"format": "complex"` (as SSF 1.0 final defines it).
 */
export const complex = (members) => ({ format: "complex", ...members });

/** Seconds since the epoch. */
const now = () => Math.floor(Date.now() / 1000);

/** `value` without its members set to `undefined` (how a test leaves a claim out). */
function defined(value) {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** A new ES256 key pair and its public JWK with `kid`. */
function keyPair(kid) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" } };
}

/** The compact JWS of `claims` under `header`, signed ES256 with `privateKey`. */
function signJwt(privateKey, header, claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

/** The payload of a JWT, read, not verified. */
export const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));

/** The `jti` of a SET (read, not verified). */
export const jtiOf = (set) => claimsOf(set).jti;

/**
 * The `events` claim of a SET from `events`: an event type URI (its default payload), or an
 * object of event type → payload. A CAEP event's payload gets `event_timestamp` one second ago
 * unless it has one (`undefined` leaves it out); RISC and SSF events get `{}` by default.
 */
function eventsClaim(events) {
  const entries = typeof events === "string" ? [[events, {}]] : Object.entries(events);
  return Object.fromEntries(
    entries.map(([type, payload = {}]) => [
      type,
      defined(type.startsWith(CAEP) && !("event_timestamp" in payload) ? { event_timestamp: now() - 1, ...payload } : payload),
    ]),
  );
}

/**
 * `POST url` with `set` as the body (RFC 8935 §2): `Content-Type: application/secevent+jwt`
 * (`contentType` overrides it), `Accept: application/json`, and `Authorization: Bearer <token>`
 * when a token is given. → `{ status, body }`, the body parsed as JSON when there is one (else
 * its text, or `null` when empty). Rejects when no answer comes within `ms`.
 */
export async function push(url, set, { token, contentType = "application/secevent+jwt", ms = 10_000 } = {}) {
  const headers = { "content-type": contentType, accept: "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let res;
  let text;
  try {
    res = await fetch(url, { method: "POST", headers, body: set, signal: AbortSignal.timeout(ms) });
    text = await res.text();
  } catch (e) {
    if (e.name === "TimeoutError") throw new Error(`push to ${url}: no answer within ${ms} ms`);
    throw e;
  }
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, body };
}

/** The request's body as text, at most 1 MiB. */
function readBody(req) {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      text += chunk;
      if (text.length > 1 << 20) reject(new Error("body too large"));
    });
    req.once("end", () => resolve(text));
    req.once("error", reject);
  });
}

/** Answers `status` with `body` as JSON (none for 204), `Cache-Control: no-store`. */
function json(res, status, body, headers = {}) {
  if (res.writableEnded) return;
  if (status === 204) {
    res.writeHead(204, { "cache-control": "no-store", ...headers }).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The reason a poll request's body (RFC 8936 §2.4) is malformed, or `null`: `ack` an array of
 * strings, `setErrs` an object of jti → `{ err, description }`, `maxEvents` a non-negative
 * integer, `returnImmediately` a boolean.
 */
function pollBodyError(body) {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "the body is not a JSON object";
  if (body.ack !== undefined && !(Array.isArray(body.ack) && body.ack.every((j) => typeof j === "string"))) {
    return "ack is not an array of strings";
  }
  if (body.setErrs !== undefined) {
    if (typeof body.setErrs !== "object" || body.setErrs === null || Array.isArray(body.setErrs)) return "setErrs is not an object";
    for (const e of Object.values(body.setErrs)) {
      if (typeof e !== "object" || e === null || typeof e.err !== "string") return "a setErrs entry has no err";
    }
  }
  if (body.maxEvents !== undefined && !(Number.isInteger(body.maxEvents) && body.maxEvents >= 0)) {
    return "maxEvents is not a non-negative integer";
  }
  if (body.returnImmediately !== undefined && typeof body.returnImmediately !== "boolean") {
    return "returnImmediately is not a boolean";
  }
  return null;
}

/**
 * Starts a transmitter on 127.0.0.1 (port 0); its issuer is `http://127.0.0.1:<port>`.
 *
 * Options:
 * - `audience` (default "chat"): the `aud` of its access tokens; `ssfAudience` (default the same):
 *   the `aud` of its SETs and of the stream (the receiver's audience).
 * - `delivery` (default `["push", "poll"]`): the methods listed in `delivery_methods_supported`;
 *   the stream delivers by poll when poll is offered, else by push to `pushUrl`.
 * - `pollToken` (default "poll-secret"): the bearer the receiver presents to the stream, poll and
 *   verification endpoints (else 401).
 * - `pushUrl`, `pushToken`: the push stream's `endpoint_url` and `authorization_header` (both
 *   also settable later on the returned object, as the receiver's URL is known after it starts).
 * - `longPollMs` (default 5 000): how long a poll with nothing queued is held.
 * - `redeliverAfterMs` (default 0): a SET handed out and not yet acknowledged is handed out again
 *   only that long after (0: in every answer until acknowledged). Several receivers polling one
 *   stream each get a SET once with a lease longer than the test.
 * - `streamList` (default false): a stream read without `stream_id` answers a list (SSF 1.0
 *   §8.1.1.2) instead of the one stream object.
 * - `streamId` (default "s1").
 */
export async function startTransmitter({
  audience = "chat",
  ssfAudience = audience,
  delivery = ["push", "poll"],
  pollToken = "poll-secret",
  pushUrl = null,
  pushToken,
  longPollMs = 5_000,
  redeliverAfterMs = 0,
  streamList = false,
  streamId = "s1",
} = {}) {
  for (const d of delivery) if (d !== "push" && d !== "poll") throw new Error(`unknown delivery method ${d}`);
  const polls = delivery.includes("poll");
  const accessKey = keyPair("1");
  const setKey = keyPair("ssf-1");
  /** Not yet acknowledged: jti → `{ set, deliveredAt }` (`deliveredAt`: when last handed out). */
  const queue = new Map();
  /** Held polls, oldest first: `{ maxEvents, res, timer }`. */
  let waiting = [];
  let issuer = "";

  /** Up to `maxEvents` queued SETs that may be handed out now, marked handed out. */
  const take = (maxEvents) => {
    const sets = {};
    let count = 0;
    let moreAvailable = false;
    const at = Date.now();
    for (const [jti, entry] of queue) {
      const leased = redeliverAfterMs > 0 && entry.deliveredAt !== undefined && at - entry.deliveredAt < redeliverAfterMs;
      if (leased) continue;
      if (count >= maxEvents) {
        moreAvailable = true;
        break;
      }
      sets[jti] = entry.set;
      entry.deliveredAt = at;
      api.deliveries.push(jti);
      count += 1;
    }
    return { sets, moreAvailable, count };
  };

  /** Answers the held polls, oldest first, that now have something to take. */
  const wake = () => {
    waiting = waiting.filter((w) => {
      if (w.res.writableEnded || w.res.destroyed) return false;
      const { sets, moreAvailable, count } = take(w.maxEvents);
      if (count === 0) return true;
      clearTimeout(w.timer);
      json(w.res, 200, { sets, moreAvailable });
      return false;
    });
  };

  /** RFC 8936 §2.4: acknowledgements and errors first, then SETs now or when one is queued. */
  const poll = async (req, res) => {
    let body;
    try {
      const text = await readBody(req);
      body = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return json(res, 400, { err: "invalid_request", description: "the body is not JSON" });
    }
    const problem = pollBodyError(body);
    if (problem) return json(res, 400, { err: "invalid_request", description: problem });
    api.polls.push(body);
    for (const jti of body.ack ?? []) {
      api.acks.push(jti);
      queue.delete(jti);
    }
    for (const [jti, e] of Object.entries(body.setErrs ?? {})) {
      api.setErrs[jti] = { err: e.err, description: e.description };
      queue.delete(jti);
    }
    const maxEvents = body.maxEvents ?? Infinity;
    const { sets, moreAvailable, count } = take(maxEvents);
    if (count > 0 || body.returnImmediately === true || maxEvents === 0) return json(res, 200, { sets, moreAvailable });
    const waiter = { maxEvents, res, timer: null };
    waiter.timer = setTimeout(() => {
      waiting = waiting.filter((w) => w !== waiter);
      json(res, 200, { sets: {}, moreAvailable: false });
    }, longPollMs);
    res.once("close", () => {
      clearTimeout(waiter.timer);
      waiting = waiting.filter((w) => w !== waiter);
    });
    waiting.push(waiter);
  };

  /** The stream's configuration (SSF 1.0 §8.1.1). */
  const stream = () => ({
    stream_id: streamId,
    iss: issuer,
    aud: ssfAudience,
    delivery: polls
      ? { method: POLL_METHOD, endpoint_url: `${issuer}/ssf/poll` }
      : defined({
        method: PUSH_METHOD,
        endpoint_url: api.pushUrl,
        authorization_header: api.pushToken === undefined ? undefined : `Bearer ${api.pushToken}`,
      }),
    events_supported: EVENT_TYPES,
    events_requested: EVENT_TYPES,
    events_delivered: EVENT_TYPES,
  });

  /** SSF 1.0 §8.1.4.2: a verification SET for the stream, queued or pushed; 204. */
  const verification = async (req, res) => {
    let body;
    try {
      body = JSON.parse((await readBody(req)) || "{}");
    } catch {
      return json(res, 400, { err: "invalid_request", description: "the body is not JSON" });
    }
    if (body?.stream_id !== streamId) return json(res, 404, {});
    const set = api.set({ [VERIFICATION]: defined({ state: body.state }) }, { sub_id: opaque(streamId) });
    const record = { state: body.state, jti: jtiOf(set), pushed: null };
    api.verifications.push(record);
    json(res, 204);
    if (polls) api.enqueue(set);
    else if (api.pushUrl) record.pushed = await push(api.pushUrl, set, { token: api.pushToken }).catch((e) => ({ error: e.message }));
  };

  const bearer = (req) => req.headers.authorization === `Bearer ${pollToken}`;
  const handle = async (req, res) => {
    const url = new URL(req.url, issuer);
    const route = `${req.method} ${url.pathname}`;
    const authorized = () => bearer(req) || (json(res, 401, { err: "authentication_failed" }, { "www-authenticate": "Bearer" }), false);
    switch (route) {
      case "GET /.well-known/openid-configuration":
        return json(res, 200, { issuer, jwks_uri: `${issuer}/jwks.json` });
      case "GET /jwks.json":
        return json(res, 200, { keys: [accessKey.jwk] });
      case "GET /.well-known/ssf-configuration":
        return json(res, 200, {
          spec_version: "1_0",
          issuer,
          jwks_uri: `${issuer}/ssf/jwks.json`,
          delivery_methods_supported: delivery.map((d) => (d === "push" ? PUSH_METHOD : POLL_METHOD)),
          configuration_endpoint: `${issuer}/ssf/stream`,
          verification_endpoint: `${issuer}/ssf/verify`,
        });
      case "GET /ssf/jwks.json":
        return json(res, 200, { keys: [setKey.jwk] });
      case "GET /ssf/stream": {
        if (!authorized()) return;
        const id = url.searchParams.get("stream_id");
        if (id !== null) return id === streamId ? json(res, 200, stream()) : json(res, 404, {});
        return json(res, 200, streamList ? [stream()] : stream());
      }
      case "POST /ssf/poll":
        if (!polls) return json(res, 404, {});
        if (!authorized()) return;
        return poll(req, res);
      case "POST /ssf/verify":
        if (!authorized()) return;
        return verification(req, res);
      default:
        return json(res, 404, {});
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => json(res, 500, { err: "internal", description: e.message }));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${server.address().port}`;

  /** The SET of `claims` over the defaults, with `events`, signed with `privateKey`. */
  const signSet = (privateKey, events, claims, header) =>
    signJwt(
      privateKey,
      { alg: "ES256", typ: "secevent+jwt", kid: "ssf-1", ...header },
      defined({ iss: issuer, aud: ssfAudience, iat: now(), jti: randomUUID(), sub_id: api.issSub("42"), events: eventsClaim(events), ...claims }),
    );

  const api = {
    issuer,
    /** The push stream's `endpoint_url` (the receiver's push endpoint). */
    pushUrl,
    /** The push stream's bearer token (its `authorization_header`), for the verification push too. */
    pushToken,
    /** Every `ack`ed jti, in order (duplicates kept). */
    acks: [],
    /** jti → `{ err, description }` of every reported error (the last report wins). */
    setErrs: {},
    /** Every jti handed out by a poll answer, in order (duplicates kept). */
    deliveries: [],
    /** Every poll request's body, in order. */
    polls: [],
    /** Every verification request: `{ state, jti, pushed }` (`pushed`: the push's answer). */
    verifications: [],

    /** An access token: sub "42", this issuer, the audience, 10 minutes, with `claims` over them. */
    token: (claims = {}) =>
      signJwt(
        accessKey.privateKey,
        { alg: "ES256", typ: "JWT", kid: "1" },
        defined({ sub: "42", iss: issuer, aud: audience, iat: now() - 1, exp: now() + 600, jti: randomUUID(), ...claims }),
      ),
    /**
     * A SET (RFC 8417, SSF 1.0 §4): header `{ alg: ES256, typ: secevent+jwt, kid: ssf-1 }` over
     * `header`; claims `{ iss, aud, iat: now, jti, sub_id: issSub("42"), events }` with `claims`
     * over them (a member set to `undefined` is left out). `events`: an event type or an object
     * of event type → payload (see `eventsClaim`).
     */
    set: (events, claims = {}, header = {}) => signSet(setKey.privateKey, events, claims, header),
    /** A SET as `set` makes it, signed by a key this transmitter does not publish (same kid). */
    otherKeySet: (events, claims = {}, header = {}) => signSet(keyPair("ssf-1").privateKey, events, claims, header),
    /** An `iss_sub` subject: `sub` at `iss` (this issuer by default). */
    issSub: (sub, iss = issuer) => ({ format: "iss_sub", iss, sub }),
    email,
    opaque,
    complex,
    /**
     * Queues `set` for poll delivery under `jti` (the SET's own by default; give one for a body
     * that is not a JWT) and answers a held poll. → the jti.
     */
    enqueue(set, jti = jtiOf(set)) {
      queue.set(jti, { set, deliveredAt: undefined });
      wake();
      return jti;
    },
    /** The jtis queued and not yet acknowledged. */
    queued: () => [...queue.keys()],
    /** Answers the held polls (empty), stops listening and closes every connection. */
    async close() {
      for (const w of waiting) {
        clearTimeout(w.timer);
        json(w.res, 200, { sets: {}, moreAvailable: false });
      }
      waiting = [];
      const closed = new Promise((r) => server.close(r));
      server.closeAllConnections();
      await closed;
    },
  };
  return api;
}

// ---------------------------------------------------------------------------------------------
// Self-checks: `node ssf-transmitter.mjs`.

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { test } = await import("node:test");
  const assert = (await import("node:assert/strict")).default;
  const { until } = await import("./demo-server.mjs");

  /** The verified header and claims of `jwt` with the JWK `jwk`, or `null` when it does not verify. */
  const verified = (jwt, jwk) => {
    const [h, p, s] = jwt.split(".");
    const key = createPublicKey({ key: jwk, format: "jwk" });
    const ok = verify("sha256", Buffer.from(`${h}.${p}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"));
    return ok ? { header: JSON.parse(Buffer.from(h, "base64url")), claims: JSON.parse(Buffer.from(p, "base64url")) } : null;
  };
  const getJson = async (url, headers = {}) => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  /** `POST /ssf/poll` with `body` → `{ status, body, ms }` (how long the answer took). */
  const pollOnce = async (t, body, token = "poll-secret") => {
    const started = Date.now();
    const res = await fetch(`${t.issuer}/ssf/poll`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.json().catch(() => null), ms: Date.now() - started };
  };

  test("discovery, keys, access tokens and SETs", async () => {
    const t = await startTransmitter();
    try {
      const oidc = await getJson(`${t.issuer}/.well-known/openid-configuration`);
      assert.deepEqual(oidc.body, { issuer: t.issuer, jwks_uri: `${t.issuer}/jwks.json` });
      const ssf = await getJson(`${t.issuer}/.well-known/ssf-configuration`);
      assert.deepEqual(ssf.body, {
        spec_version: "1_0",
        issuer: t.issuer,
        jwks_uri: `${t.issuer}/ssf/jwks.json`,
        delivery_methods_supported: [PUSH_METHOD, POLL_METHOD],
        configuration_endpoint: `${t.issuer}/ssf/stream`,
        verification_endpoint: `${t.issuer}/ssf/verify`,
      });
      const [accessJwk] = (await getJson(`${t.issuer}/jwks.json`)).body.keys;
      const [setJwk] = (await getJson(`${t.issuer}/ssf/jwks.json`)).body.keys;
      assert.deepEqual([accessJwk.kid, setJwk.kid, setJwk.alg], ["1", "ssf-1", "ES256"]);

      const token = verified(t.token({ sub: "7", extra: undefined }), accessJwk);
      assert.equal(token.claims.sub, "7");
      assert.equal(token.claims.iss, t.issuer);
      assert.equal(token.claims.aud, "chat");
      assert.ok(token.claims.exp - token.claims.iat > 590 && typeof token.claims.jti === "string");
      assert.ok(!("extra" in token.claims));

      const s = t.set(SESSION_REVOKED, { sub_id: t.complex({ user: t.issSub("u1"), session: t.opaque("sid-1") }) });
      assert.equal(verified(s, accessJwk), null, "SETs are not signed with the access-token key");
      const { header, claims } = verified(s, setJwk);
      assert.deepEqual(header, { alg: "ES256", typ: "secevent+jwt", kid: "ssf-1" });
      assert.equal(claims.iss, t.issuer);
      assert.equal(claims.aud, "chat");
      assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 2);
      assert.equal(claims.jti, jtiOf(s));
      assert.deepEqual(claims.sub_id, {
        format: "complex",
        user: { format: "iss_sub", iss: t.issuer, sub: "u1" },
        session: { format: "opaque", id: "sid-1" },
      });
      assert.deepEqual(Object.keys(claims.events), [SESSION_REVOKED]);
      assert.equal(claims.events[SESSION_REVOKED].event_timestamp, claims.iat - 1);

      const risc = verified(t.set({ [ACCOUNT_DISABLED]: undefined }, { aud: "other", jti: undefined }), setJwk).claims;
      assert.deepEqual(risc.events, { [ACCOUNT_DISABLED]: {} });
      assert.equal(risc.aud, "other");
      assert.ok(!("jti" in risc));
      assert.deepEqual(risc.sub_id, { format: "iss_sub", iss: t.issuer, sub: "42" });
      const caep = verified(t.set({ [CREDENTIAL_CHANGE]: { event_timestamp: 5, change_type: "update" } }), setJwk).claims;
      assert.deepEqual(caep.events[CREDENTIAL_CHANGE], { event_timestamp: 5, change_type: "update" });
      const noTimestamp = verified(t.set({ [TOKEN_CLAIMS_CHANGE]: { event_timestamp: undefined } }), setJwk).claims;
      assert.deepEqual(noTimestamp.events[TOKEN_CLAIMS_CHANGE], {});
      assert.equal(verified(t.set(VERIFICATION, {}, { typ: "JWT" }), setJwk).header.typ, "JWT");

      const forged = t.otherKeySet(ACCOUNT_PURGED);
      assert.equal(JSON.parse(Buffer.from(forged.split(".")[0], "base64url")).kid, "ssf-1");
      assert.equal(verified(forged, setJwk), null, "another transmitter's key");
      assert.deepEqual(email("a@b.example"), { format: "email", email: "a@b.example" });
    } finally {
      await t.close();
    }
  });

  test("the stream: bearer required, poll when offered, else push to pushUrl", async () => {
    const poll = await startTransmitter({ pollToken: "p" });
    const pushOnly = await startTransmitter({ delivery: ["push"], pushUrl: "http://127.0.0.1:9/ssf/events", ssfAudience: "aud-2" });
    try {
      assert.equal((await getJson(`${poll.issuer}/ssf/stream`)).status, 401);
      assert.equal((await getJson(`${poll.issuer}/ssf/stream`, { authorization: "Bearer nope" })).status, 401);
      const config = await getJson(`${poll.issuer}/ssf/stream`, { authorization: "Bearer p" });
      assert.equal(config.status, 200);
      assert.equal(config.body.stream_id, "s1");
      assert.equal(config.body.iss, poll.issuer);
      assert.equal(config.body.aud, "chat");
      assert.deepEqual(config.body.delivery, { method: POLL_METHOD, endpoint_url: `${poll.issuer}/ssf/poll` });
      assert.ok(config.body.events_delivered.includes(SESSION_REVOKED));
      assert.deepEqual((await getJson(`${poll.issuer}/ssf/stream?stream_id=s1`, { authorization: "Bearer p" })).body, config.body);
      assert.equal((await getJson(`${poll.issuer}/ssf/stream?stream_id=s2`, { authorization: "Bearer p" })).status, 404);

      const meta = (await getJson(`${pushOnly.issuer}/.well-known/ssf-configuration`)).body;
      assert.deepEqual(meta.delivery_methods_supported, [PUSH_METHOD]);
      const pushConfig = (await getJson(`${pushOnly.issuer}/ssf/stream`, { authorization: "Bearer poll-secret" })).body;
      assert.deepEqual(pushConfig.delivery, { method: PUSH_METHOD, endpoint_url: "http://127.0.0.1:9/ssf/events" });
      assert.equal(pushConfig.aud, "aud-2");
      pushOnly.pushUrl = "http://127.0.0.1:10/events";
      pushOnly.pushToken = "t";
      const later = (await getJson(`${pushOnly.issuer}/ssf/stream`, { authorization: "Bearer poll-secret" })).body;
      assert.deepEqual(later.delivery, { method: PUSH_METHOD, endpoint_url: "http://127.0.0.1:10/events", authorization_header: "Bearer t" });
      assert.equal((await pollOnce(pushOnly, {})).status, 404, "no poll endpoint without poll");
    } finally {
      await Promise.all([poll.close(), pushOnly.close()]);
    }
    const listing = await startTransmitter({ streamList: true });
    try {
      const list = await getJson(`${listing.issuer}/ssf/stream`, { authorization: "Bearer poll-secret" });
      assert.deepEqual(list.body.map((s) => s.stream_id), ["s1"], "streamList: a list without stream_id");
    } finally {
      await listing.close();
    }
  });

  test("poll: SETs stay until acknowledged or reported, maxEvents and moreAvailable, errors recorded", async () => {
    const t = await startTransmitter({ longPollMs: 300 });
    try {
      assert.equal((await pollOnce(t, {}, "wrong")).status, 401);
      const [a, b, c] = [t.set(ACCOUNT_DISABLED), t.set(SESSION_REVOKED), t.set(CREDENTIAL_COMPROMISE)];
      for (const s of [a, b, c]) t.enqueue(s);
      const first = await pollOnce(t, { maxEvents: 2, returnImmediately: true });
      assert.deepEqual(first.body, { sets: { [jtiOf(a)]: a, [jtiOf(b)]: b }, moreAvailable: true });
      const again = await pollOnce(t, { returnImmediately: true });
      assert.deepEqual(Object.keys(again.body.sets), [a, b, c].map(jtiOf), "unacknowledged SETs are handed out again");
      assert.equal(again.body.moreAvailable, false);
      const acked = await pollOnce(t, {
        ack: [jtiOf(a)],
        setErrs: { [jtiOf(b)]: { err: "invalid_audience", description: "not for me" } },
        returnImmediately: true,
      });
      assert.deepEqual(Object.keys(acked.body.sets), [jtiOf(c)]);
      assert.deepEqual(t.acks, [jtiOf(a)]);
      assert.deepEqual(t.setErrs, { [jtiOf(b)]: { err: "invalid_audience", description: "not for me" } });
      const ackOnly = await pollOnce(t, { ack: [jtiOf(c)], maxEvents: 0 });
      assert.deepEqual(ackOnly.body, { sets: {}, moreAvailable: false });
      assert.deepEqual(t.queued(), []);
      const empty = await pollOnce(t, { returnImmediately: true });
      assert.deepEqual(empty.body, { sets: {}, moreAvailable: false });
      assert.ok(empty.ms < 250, `returnImmediately answers at once (${empty.ms} ms)`);
      const bad = await pollOnce(t, { maxEvents: -1 });
      assert.deepEqual([bad.status, bad.body.err], [400, "invalid_request"]);
      assert.equal(t.enqueue("not-a-jwt", "raw-1"), "raw-1");
      assert.deepEqual((await pollOnce(t, { returnImmediately: true })).body.sets, { "raw-1": "not-a-jwt" });
    } finally {
      await t.close();
    }
  });

  test("poll: a long poll is held until a SET is queued, or answered empty after longPollMs", async () => {
    const t = await startTransmitter({ longPollMs: 400 });
    try {
      const idle = await pollOnce(t, {});
      assert.deepEqual(idle.body, { sets: {}, moreAvailable: false });
      assert.ok(idle.ms >= 350 && idle.ms < 2_000, `held about 400 ms (${idle.ms} ms)`);
      const held = pollOnce(t, { returnImmediately: false });
      await until(() => t.polls.length === 2, "the second poll to be held");
      const s = t.set(SESSIONS_REVOKED);
      t.enqueue(s);
      const woken = await held;
      assert.deepEqual(woken.body.sets, { [jtiOf(s)]: s });
      assert.ok(woken.ms < 380, `answered when queued (${woken.ms} ms)`);
    } finally {
      await t.close();
    }
  });

  test("poll: with redeliverAfterMs, two pollers get a SET once", async () => {
    const t = await startTransmitter({ longPollMs: 500, redeliverAfterMs: 60_000 });
    try {
      const [p1, p2] = [pollOnce(t, {}), pollOnce(t, {})];
      await until(() => t.polls.length === 2, "both polls to be held");
      const s = t.set(ACCOUNT_PURGED);
      t.enqueue(s);
      const answers = await Promise.all([p1, p2]);
      assert.deepEqual(answers.map((a) => Object.keys(a.body.sets).length).sort(), [0, 1]);
      assert.deepEqual(t.deliveries, [jtiOf(s)]);
      assert.deepEqual(t.queued(), [jtiOf(s)], "still queued until acknowledged");
      await pollOnce(t, { ack: [jtiOf(s)], returnImmediately: true });
      assert.deepEqual(t.queued(), []);
    } finally {
      await t.close();
    }
  });

  test("push: the RFC 8935 request, the answer parsed; verification SETs pushed or queued", async () => {
    const seen = [];
    const receiver = createServer(async (req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: await readBody(req) });
      if (seen.length === 1) res.writeHead(202).end();
      else res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ err: "invalid_key", description: "x" }));
    });
    await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${receiver.address().port}/ssf/events`;
    const t = await startTransmitter({ delivery: ["push"], pushUrl: url, pushToken: "push-t" });
    const p = await startTransmitter({ delivery: ["poll"] });
    try {
      const s = t.set(CREDENTIAL_CHANGE);
      assert.deepEqual(await push(url, s, { token: "tok" }), { status: 202, body: null });
      assert.deepEqual(seen[0].method, "POST");
      assert.equal(seen[0].url, "/ssf/events");
      assert.equal(seen[0].headers["content-type"], "application/secevent+jwt");
      assert.equal(seen[0].headers.accept, "application/json");
      assert.equal(seen[0].headers.authorization, "Bearer tok");
      assert.equal(seen[0].body, s);
      assert.deepEqual(await push(url, "", { contentType: "application/json" }), {
        status: 400,
        body: { err: "invalid_key", description: "x" },
      });
      assert.equal(seen[1].headers.authorization, undefined);
      assert.equal(seen[1].headers["content-type"], "application/json");
      assert.equal(seen[1].body, "");

      const requestVerification = (tr, body) =>
        fetch(`${tr.issuer}/ssf/verify`, {
          method: "POST",
          headers: { authorization: "Bearer poll-secret", "content-type": "application/json" },
          body: JSON.stringify(body),
        }).then((r) => r.status);
      assert.equal(await requestVerification(t, { stream_id: "s2" }), 404);
      assert.equal(await requestVerification(t, { stream_id: "s1", state: "st" }), 204);
      await until(() => seen.length === 3, "the verification SET to be pushed");
      const pushed = claimsOf(seen[2].body);
      assert.deepEqual(pushed.events, { [VERIFICATION]: { state: "st" } });
      assert.deepEqual(pushed.sub_id, { format: "opaque", id: "s1" });
      assert.equal(seen[2].headers.authorization, "Bearer push-t");
      assert.equal(await requestVerification(p, { stream_id: "s1" }), 204);
      const [{ jti }] = p.verifications;
      const queued = (await pollOnce(p, { returnImmediately: true })).body.sets[jti];
      assert.deepEqual(claimsOf(queued).events, { [VERIFICATION]: {} }, "queued when polled, without state");
    } finally {
      await Promise.all([t.close(), p.close(), new Promise((r) => receiver.close(r))]);
    }
  });
}
