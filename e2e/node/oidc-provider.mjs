// An OpenID provider on loopback for the tests: discovery and a JWKS with one ES256 key (kid
// "1"), access tokens and back-channel logout tokens signed with that key.
import { createServer } from "node:http";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";

/** The `events` member of a back-channel logout token. */
export const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

/**
 * Starts a provider; tokens carry `audience` unless told otherwise. Every provider publishes
 * kid "1", each with its own key (what a resolver keyed by kid alone would confuse).
 */
export async function startProvider({ audience = "chat", clientId = "chat-web" } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "1", alg: "ES256", use: "sig" };
  let issuer = "";
  const server = createServer((req, res) => {
    const body =
      req.url === "/.well-known/openid-configuration"
        ? { issuer, jwks_uri: `${issuer}/jwks.json` }
        : req.url === "/jwks.json"
          ? { keys: [jwk] }
          : null;
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? {}));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${server.address().port}`;
  /** `claims` over `defaults` (a member set to `undefined` is left out), signed ES256. */
  const signed = (defaults, claims, header = {}) => {
    const full = { ...defaults, ...claims };
    for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const input = `${b64({ alg: "ES256", typ: "JWT", kid: "1", ...header })}.${b64(full)}`;
    const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
    return `${input}.${signature.toString("base64url")}`;
  };
  const now = () => Math.floor(Date.now() / 1000);
  return {
    issuer,
    /** An access token: sub "42", this issuer, the audience, 10 minutes, with `claims` over them. */
    token: (claims = {}) =>
      signed({ sub: "42", iss: issuer, aud: audience, iat: now() - 1, exp: now() + 600, jti: randomUUID() }, claims),
    /** A back-channel logout token for the client id (OpenID Back-Channel Logout 1.0 §2.4). */
    logoutToken: (claims = {}) =>
      signed(
        { iss: issuer, aud: clientId, iat: now(), exp: now() + 120, jti: randomUUID(), events: { [LOGOUT_EVENT]: {} } },
        claims,
        { typ: "logout+jwt" },
      ),
    close: () => new Promise((r) => server.close(r)),
  };
}

/** `POST <url>/backchannel-logout` with the form field `logout_token` → `{ status, body }`. */
export async function postLogout(url, logoutToken, body = new URLSearchParams({ logout_token: logoutToken })) {
  const res = await fetch(`${url}/backchannel-logout`, { method: "POST", body });
  return { status: res.status, body: await res.json().catch(() => null), cacheControl: res.headers.get("cache-control") };
}
