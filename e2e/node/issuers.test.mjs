// Two OpenID providers on loopback (discovery and JWKS served here), both publishing a key with
// kid "1", each with its own key; the demo started with --oidc-issuer for both, beside its own
// /login. Each provider's tokens authenticate, a token signed with A's key that claims B's iss
// does not, and neither does one without iss.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";

import { authenticatedSocket, login, refusalCode, startDemo } from "./demo-server.mjs";

const AUDIENCE = "chat";
const providers = [];
let demo;
const sockets = [];

/** An OpenID provider on loopback: discovery and a JWKS with one ES256 key, kid "1". */
async function startProvider() {
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
  return {
    issuer,
    /** An ES256 token signed with this provider's key, with `claims` over the defaults. */
    token(claims) {
      const now = Math.floor(Date.now() / 1000);
      const full = { sub: "42", iss: issuer, aud: AUDIENCE, iat: now - 1, exp: now + 600, jti: randomUUID(), ...claims };
      for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
      const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const input = `${b64({ alg: "ES256", typ: "JWT", kid: "1" })}.${b64(full)}`;
      const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
      return `${input}.${signature.toString("base64url")}`;
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

before(async () => {
  providers.push(await startProvider(), await startProvider());
  demo = await startDemo([
    ...providers.flatMap((p) => ["--oidc-issuer", p.issuer]),
    "--audience", AUDIENCE,
  ]);
});
after(async () => {
  for (const s of sockets) s.close();
  await demo?.stop();
  await Promise.all(providers.map((p) => p.close()));
});

const refusal = (url, token) => refusalCode(url, token, sockets);

test("each provider's tokens work, with the same kid and different keys; the demo's own login beside them", async () => {
  const [A, B] = providers;
  await authenticatedSocket(demo.url, A.token({}), sockets);
  await authenticatedSocket(demo.url, B.token({}), sockets);
  const own = await login(demo.url, "alice", "wonderland");
  await authenticatedSocket(demo.url, own, sockets);
});

test("a token signed with A's key that claims B's iss is refused, and so is one without iss", async () => {
  const [A, B] = providers;
  assert.equal(await refusal(demo.url, A.token({ iss: B.issuer })), "invalid_token");
  assert.equal(await refusal(demo.url, A.token({ iss: undefined })), "invalid_token");
  assert.equal(await refusal(demo.url, A.token({ iss: "https://idp.elsewhere.example" })), "invalid_token");
  // A's own token for another of A's clients.
  assert.equal(await refusal(demo.url, A.token({ aud: "billing" })), "invalid_token");
});
