// Tokens an issuer can sign that the demo never saw in its other tests: any `exp`, `nbf` and
// `iat` JSON can hold, an `aud` minted for another API, a key fetch redirected off https. Each
// gets a working socket whose expiry is enforced, or a clear refusal with a code, and the
// server keeps serving everyone else. Real demo processes, the stock socket.io-client.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { io } from "socket.io-client";

import { TEST_SECRET, adminRevoke, startDemo } from "./demo-server.mjs";

const WAIT = 10_000;
const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);
const b64url = (v) => Buffer.from(v).toString("base64url");

/** HS256 over claims given as JSON text, so that numbers beyond 2^53 keep every digit. */
function signRaw(claimsJson, key = TEST_SECRET) {
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(claimsJson)}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** Claims as JSON text: `extra` is spliced in verbatim (e.g. `"exp":18446744073709551615`). */
function token(sub, extra) {
  return signRaw(`{"sub":${JSON.stringify(sub)},"role":"user",${extra}}`);
}

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

/**
 * Connects the stock client and authenticates in `mode`; on success asks `whoami`.
 * Resolves `{ ok: true, sub, exp, whoami, socket }` or `{ ok: false, code }`.
 */
function authenticate(url, tok, mode) {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...(mode === "handshake" ? { auth: { token: tok } } : {}),
  });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no outcome within ${WAIT} ms`)), WAIT);
    const done = (outcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    if (mode === "message") socket.on("connect", () => socket.emit("authenticate", { token: tok }));
    socket.on("authenticated", async (info) => {
      try {
        const whoami = await socket.timeout(WAIT).emitWithAck("whoami");
        done({ ok: true, sub: info.sub, exp: info.exp, whoami, socket });
      } catch (e) {
        reject(new Error(`authenticated, but whoami was not answered: ${e.message}`));
      }
    });
    socket.on("unauthorized", (err) => done({ ok: false, code: err.data.code }));
    socket.on("connect_error", (err) => done({ ok: false, code: err.data?.code ?? err.message }));
  });
}

async function me(url, tok) {
  return (await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${tok}` } })).status;
}

/** Every class of time value, with the outcome it must get. */
function timeCases() {
  const t = now();
  return [
    // Long-lived tokens work, however far their expiry lies.
    ["exp 900 days ahead (beyond the timer wheel's ~795 days)", `"exp":${t + 900 * DAY}`, "ok"],
    ["exp 10 years ahead", `"exp":${t + 3650 * DAY}`, "ok"],
    ["exp = 2^53 + 1", `"exp":9007199254740993`, "ok"],
    ["exp = i64::MAX", `"exp":9223372036854775807`, "ok"],
    ["exp = u64::MAX", `"exp":18446744073709551615`, "ok"],
    ["exp a float 10 minutes ahead", `"exp":${t + 600}.5`, "ok"],
    ["exp a float far ahead", `"exp":1.8e19`, "ok"],
    // Unreadable or past: a code, never a hang.
    ["exp beyond u64 (1e300)", `"exp":1e300`, "invalid_token"],
    ["exp beyond u64 (an integer)", `"exp":18446744073709551616`, "invalid_token"],
    ["exp negative", `"exp":-1`, "invalid_token"],
    ["exp = i64::MIN", `"exp":-9223372036854775808`, "invalid_token"],
    ["exp a string", `"exp":"${t + 600}"`, "invalid_token"],
    ["exp null", `"exp":null`, "invalid_token"],
    ["exp 0", `"exp":0`, "token_expired"],
    ["nbf = u64::MAX", `"exp":${t + 600},"nbf":18446744073709551615`, "invalid_token"],
    ["nbf negative", `"exp":${t + 600},"nbf":-5`, "invalid_token"],
    // iat: a little ahead is clock skew; far ahead is refused.
    ["iat 2 s ahead", `"exp":${t + 600},"iat":${t + 2}`, "ok"],
    ["iat an hour ahead", `"exp":${t + 600},"iat":${t + 3600}`, "invalid_token"],
    ["iat = u64::MAX", `"exp":${t + 600},"iat":18446744073709551615`, "invalid_token"],
    ["iat negative", `"exp":${t + 600},"iat":-1`, "invalid_token"],
  ];
}

for (const mode of ["message", "handshake"]) {
  describe(`every time value a token can carry, ${mode} mode`, () => {
    test("works with its expiry enforced, or is refused with a code; the server keeps serving", async () => {
      const demo = await startDemo(["--mode", mode]);
      try {
        for (const [what, claims, expected] of timeCases()) {
          const tok = token(`u-${mode}`, claims);
          const outcome = await authenticate(demo.url, tok, mode);
          if (expected === "ok") {
            assert.equal(outcome.ok, true, `${what}: ${outcome.code}`);
            assert.equal(outcome.whoami.sub, `u-${mode}`, what);
            assert.equal(await me(demo.url, tok), 200, `${what}: REST`);
            outcome.socket.close();
          } else {
            assert.deepEqual(outcome, { ok: false, code: expected }, what);
            assert.equal(await me(demo.url, tok), 401, `${what}: REST`);
          }
          assert.equal(demo.exitCode, null, `${what}: the server is still up`);
        }
        // Sockets that held far deadlines are gone; a fresh one still times out on schedule.
        const fresh = await authenticate(demo.url, token("late", `"exp":${now() + 60}`), mode);
        assert.equal(fresh.ok, true);
      } finally {
        await demo.stop();
      }
    });
  });
}

test("a long-lived socket is still refused at its exp (expiry enforced, not dropped)", async () => {
  const demo = await startDemo(["--expiry-warning-secs", "0"]);
  try {
    // Two sockets: one far in the future, one that expires in 2 s; the far one must not stop
    // the near one's timer, and the near one is refused on time.
    const far = await authenticate(demo.url, token("far", `"exp":${now() + 900 * DAY}`), "message");
    const near = await authenticate(demo.url, token("near", `"exp":${now() + 2}`), "message");
    assert.equal(far.ok && near.ok, true);
    const refused = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no token_expired within 10 s")), WAIT);
      near.socket.on("unauthorized", (err) => {
        clearTimeout(timer);
        resolve(err.data.code);
      });
    });
    assert.equal(refused, "token_expired");
    assert.equal((await far.socket.timeout(WAIT).emitWithAck("whoami")).sub, "far");
  } finally {
    await demo.stop();
  }
});

describe("audience (RFC 8725 §3.9)", () => {
  test("a token minted for another API is refused on sockets and REST when no audience is set", async () => {
    const demo = await startDemo();
    try {
      const t = now();
      const billing = signRaw(JSON.stringify({ sub: "admin", role: "admin", aud: "billing-api", exp: t + 600 }));
      assert.deepEqual(await authenticate(demo.url, billing, "message"), { ok: false, code: "invalid_token" });
      assert.equal(await me(demo.url, billing), 401);
      const res = await fetch(`${demo.url}/admin/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${billing}`, "content-type": "application/json" },
        body: JSON.stringify({ sub: "alice" }),
      });
      assert.equal(res.status, 401, "no admin action with another API's token");
      // Tokens without `aud` (the demo's own) still work.
      const plain = signRaw(JSON.stringify({ sub: "bob", exp: t + 600 }));
      assert.equal((await authenticate(demo.url, plain, "message")).ok, true);
    } finally {
      await demo.stop();
    }
  });

  test("--jwks and --oidc-issuer need --audience (or --any-audience): the demo says so and exits", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jwks-"));
    const file = join(dir, "jwks.json");
    await writeFile(file, JSON.stringify({ keys: [{ kty: "oct", k: b64url(TEST_SECRET), kid: "k", alg: "HS256" }] }));
    const output = [];
    await assert.rejects(startDemo(["--jwks", file], { output }), /exited early/);
    assert.match(output.join("\n"), /--audience/);
  });
});

test("user revocations outlive the list's lifetime while a longer-lived token could come back", async () => {
  // Revocations kept for 2 s (--token-ttl-secs), a token that lives 900 days.
  const demo = await startDemo(["--token-ttl-secs", "2"]);
  try {
    const long = token("longlived", `"exp":${now() + 900 * DAY},"iat":${now() - 1}`);
    const first = await authenticate(demo.url, long, "message");
    assert.equal(first.ok, true);
    const revoked = new Promise((resolve) => first.socket.on("unauthorized", (err) => resolve(err.data.code)));
    assert.equal((await adminRevoke(demo.url, { sub: "longlived" })).status, 200);
    assert.equal(await revoked, "revoked");
    // Past the configured lifetime (a clock wait, not a synchronisation): still revoked.
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(await authenticate(demo.url, long, "message"), { ok: false, code: "revoked" });
    assert.equal(await me(demo.url, long), 401);
  } finally {
    await demo.stop();
  }
});

test("a JWKS fetch redirected to plain http elsewhere is refused: the demo does not start", async () => {
  const redirector = createServer((req, res) => {
    res.writeHead(302, { location: "http://keys.attacker.example/jwks.json" });
    res.end();
  });
  await new Promise((r) => redirector.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${redirector.address().port}/jwks.json`;
  const output = [];
  try {
    await assert.rejects(startDemo(["--jwks", url, "--audience", "chat"], { output }), /exited early/);
    assert.match(output.join("\n"), /refused a redirect to http:\/\/keys\.attacker\.example/);
  } finally {
    redirector.close();
  }
});
