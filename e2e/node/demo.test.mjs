// The demo as a new user meets it, with the stock socket.io-client and real processes: the
// identity rule (its own tokens need an account, others' do not), several instances on one
// data directory, and logs that never print a token.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, sign as rsaSign } from "node:crypto";
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { io } from "socket.io-client";

import { DEMO_BIN, TEST_SECRET, adminRevoke, login, startDemo, startRedis, until } from "./demo-server.mjs";

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures");
const WAIT = 10_000;
const b64url = (v) => Buffer.from(v).toString("base64url");
const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

/** A JWT signed by the test: HS256 with `key` as the secret, or RS256 with `key` as a PEM. */
function jwt(claims, { alg = "HS256", key = TEST_SECRET } = {}) {
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  const signature =
    alg === "HS256" ? createHmac("sha256", key).update(input).digest() : rsaSign("sha256", Buffer.from(input), createPrivateKey(key));
  return `${input}.${b64url(signature)}`;
}

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

/**
 * Connects the stock client and authenticates in `mode`: resolves `{ ok: true, sub }` on
 * `authenticated`, `{ ok: false, code }` on `unauthorized` or a refused handshake.
 */
function authenticate(url, token, mode = "message") {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...(mode === "handshake" ? { auth: { token } } : {}),
  });
  sockets.push(socket);
  return new Promise((resolveOutcome, reject) => {
    const timer = setTimeout(() => reject(new Error(`no outcome within ${WAIT} ms`)), WAIT);
    const done = (outcome) => {
      clearTimeout(timer);
      socket.close();
      resolveOutcome(outcome);
    };
    if (mode === "message") socket.on("connect", () => socket.emit("authenticate", { token }));
    socket.on("authenticated", (info) => done({ ok: true, sub: info.sub }));
    socket.on("unauthorized", (err) => done({ ok: false, code: err.data.code, message: err.message }));
    socket.on("connect_error", (err) => done({ ok: false, code: err.data?.code ?? err.message, message: err.message }));
  });
}

describe("identity: the demo's own tokens need an account, others' authenticate on their claims", () => {
  test("--secret shared with another issuer", async () => {
    const demo = await startDemo();
    try {
      // The demo's own token (from /login) names a user of its database.
      const own = await login(demo.url, "alice", "wonderland");
      assert.equal(JSON.parse(Buffer.from(own.split(".")[1], "base64url")).iss, "chat-demo");
      assert.deepEqual(await authenticate(demo.url, own), { ok: true, sub: "alice" });
      // Another service sharing the secret issues a token for a user the demo never saw.
      const foreign = jwt({ sub: "carol", exp: inAMinute() });
      assert.deepEqual(await authenticate(demo.url, foreign), { ok: true, sub: "carol" });
      const otherIssuer = jwt({ sub: "carol", exp: inAMinute(), iss: "https://sso.example.com" });
      assert.deepEqual(await authenticate(demo.url, otherIssuer), { ok: true, sub: "carol" });
      // A token in the demo's own name for a user it does not have is refused.
      const ownName = jwt({ sub: "carol", exp: inAMinute(), iss: "chat-demo" });
      const refused = await authenticate(demo.url, ownName);
      // The demo's own code (AuthError::custom), not the contract's forbidden.
      assert.equal(refused.code, "no_account");
      assert.match(refused.message, /no longer exists/);
      // The demo refreshes only its own tokens.
      const res = await fetch(`${demo.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${foreign}` } });
      assert.equal(res.status, 403);
    } finally {
      await demo.stop();
    }
  });

  test("--require-account: every token needs a local account", async () => {
    const demo = await startDemo(["--require-account", "--mode", "handshake"]);
    try {
      const carol = await authenticate(demo.url, jwt({ sub: "carol", exp: inAMinute() }), "handshake");
      assert.equal(carol.code, "no_account", "the connect_error message is the application's code");
      assert.deepEqual(await authenticate(demo.url, jwt({ sub: "bob", exp: inAMinute() }), "handshake"), { ok: true, sub: "bob" });
      // On REST too: 403 with the same code.
      const me = await fetch(`${demo.url}/api/me`, { headers: { authorization: `Bearer ${jwt({ sub: "carol", exp: inAMinute() })}` } });
      assert.equal(me.status, 403);
      assert.equal((await me.json()).code, "no_account");
    } finally {
      await demo.stop();
    }
  });

  test("--public-key: an identity provider's users need no account, unless --require-account", async () => {
    const key = await readFile(join(FIXTURES, "rsa_private.pem"));
    const carol = jwt({ sub: "carol@idp", exp: inAMinute(), iss: "chat-demo" }, { alg: "RS256", key });
    const publicKey = ["--public-key", join(FIXTURES, "rsa_public.pem")];
    const demo = await startDemo(publicKey);
    try {
      // Verification only: the demo issues nothing, so even `iss: chat-demo` is not its own.
      assert.deepEqual(await authenticate(demo.url, carol), { ok: true, sub: "carol@idp" });
    } finally {
      await demo.stop();
    }
    const strict = await startDemo([...publicKey, "--require-account"]);
    try {
      assert.equal((await authenticate(strict.url, carol)).code, "no_account");
    } finally {
      await strict.stop();
    }
  });
});

test("three instances started at the same moment on one fresh data directory all serve", async () => {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), "chat-demo-shared-"));
  const outputs = [[], [], []];
  try {
    // No --secret: all three must also agree on the one they generate.
    const nodes = await Promise.all(
      outputs.map((output) => startDemo(["--redis", redis.url], { dataDir, secret: null, output })),
    );
    try {
      const tokens = [];
      for (const [i, node] of nodes.entries()) {
        tokens.push(await login(node.url, i === 1 ? "bob" : "alice", i === 1 ? "builder" : "wonderland"));
      }
      // A token from one instance authenticates on the others (one generated secret, one database).
      for (const [i, node] of nodes.entries()) {
        const token = tokens[(i + 1) % 3];
        const sub = (i + 1) % 3 === 1 ? "bob" : "alice";
        assert.deepEqual(await authenticate(node.url, token), { ok: true, sub });
      }
      assert.deepEqual(
        nodes.map((n) => n.exitCode),
        [null, null, null],
        outputs.map((o) => o.join("\n")).join("\n---\n"),
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  } finally {
    await redis.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  }
});

describe("logs never print a token", () => {
  for (const mode of ["message", "handshake"]) {
    test(`RUST_LOG=trace, ${mode} mode`, async () => {
      const output = [];
      const demo = await startDemo(["--mode", mode], { env: { RUST_LOG: "trace" }, output });
      try {
        const token = jwt({ sub: "alice", exp: inAMinute() });
        assert.deepEqual(await authenticate(demo.url, token, mode), { ok: true, sub: "alice" });
        const login_ = await login(demo.url, "alice", "wonderland");
        assert.deepEqual(await authenticate(demo.url, login_, mode), { ok: true, sub: "alice" });
        await fetch(`${demo.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${login_}` } });
        // The filter was live: the library's decisions and trace events were printed.
        await until(() => output.filter((l) => l.includes("socket authenticated")).length >= 2, "both authentications logged");
        const logs = output.join("\n");
        assert.match(logs, /TRACE/);
        for (const t of [token, login_]) {
          for (const part of t.split(".").slice(1)) assert.ok(!logs.includes(part), "a token part was logged");
        }
      } finally {
        await demo.stop();
      }
    });
  }

  test("naming a content target prints tokens (why the default keeps them at warn)", async () => {
    const output = [];
    const demo = await startDemo([], { env: { RUST_LOG: "info,tungstenite=trace" }, output });
    try {
      const token = jwt({ sub: "alice", exp: inAMinute() });
      assert.deepEqual(await authenticate(demo.url, token), { ok: true, sub: "alice" });
      const signature = token.split(".")[2];
      await until(() => output.some((l) => l.includes(signature)), "tungstenite=trace to print the authenticate message");
    } finally {
      await demo.stop();
    }
  });
});

test("REST routes use the library's extractor: GET /api/me, 401/403 per RFC 6750, revoked tokens refused", async () => {
  const demo = await startDemo();
  try {
    const me = (token) => fetch(`${demo.url}/api/me`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const alice = await login(demo.url, "alice", "wonderland");
    const ok = await me(alice);
    assert.equal(ok.status, 200);
    const claims = await ok.json();
    assert.equal(claims.sub, "alice");
    assert.equal(claims.iss, "chat-demo");

    const anonymous = await me(null);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("www-authenticate"), "Bearer");
    const body = await anonymous.json();
    assert.equal(body.code, "credentials_required");
    assert.equal(body.type, "UnauthorizedError");
    assert.equal(body.data.code, "credentials_required");

    const tampered = alice.slice(0, -4) + (alice.endsWith("AAAA") ? "BBBB" : "AAAA");
    const bad = await me(tampered);
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get("www-authenticate"), /^Bearer error="invalid_token"/);
    assert.equal((await bad.json()).code, "invalid_token");

    // Not an admin: 403 with the contract's object.
    const notAdmin = await fetch(`${demo.url}/admin/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      body: JSON.stringify({ sub: "bob" }),
    });
    assert.equal(notAdmin.status, 403);
    assert.equal((await notAdmin.json()).code, "forbidden");

    // Revoked by an admin: the same token is refused by REST and by the socket.
    const revoked = await adminRevoke(demo.url, { sub: "alice" });
    assert.equal(revoked.status, 200);
    const after = await me(alice);
    assert.equal(after.status, 401);
    assert.equal((await after.json()).code, "revoked");
    assert.equal((await authenticate(demo.url, alice)).code, "revoked");
    const refresh = await fetch(`${demo.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${alice}` } });
    assert.equal(refresh.status, 401);
  } finally {
    await demo.stop();
  }
});

describe("secrets never on the command line: every secret flag also from the environment and from a file", () => {
  const ADMIN_PASSWORD = "a-new-admin-password-from-a-file";

  /** What the process was started with, as `ps` shows it. */
  const commandLine = async (pid) => (await readFile(`/proc/${pid}/cmdline`, "utf8")).replaceAll("\0", " ");

  test("--secret-file and --admin-password-file: tokens verify, the admin logs in, neither is in the command line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "secrets-"));
    try {
      await writeFile(join(dir, "jwt"), `${TEST_SECRET}\n`, { mode: 0o600 });
      await writeFile(join(dir, "admin"), `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
      const demo = await startDemo(["--secret-file", join(dir, "jwt"), "--admin-password-file", join(dir, "admin")], {
        secret: null,
        env: { JWT_SECRET: "" },
      });
      try {
        assert.deepEqual(await authenticate(demo.url, jwt({ sub: "carol", exp: inAMinute() })), { ok: true, sub: "carol" });
        assert.ok(await login(demo.url, "admin", ADMIN_PASSWORD), "the admin logs in with the password from the file");
        const old = await fetch(`${demo.url}/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "admin", password: "admin-password" }),
        });
        assert.equal(old.status, 401, "the default admin password no longer works");
        const line = await commandLine(demo.pid);
        assert.ok(!line.includes(TEST_SECRET) && !line.includes(ADMIN_PASSWORD), line);
      } finally {
        await demo.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("REDIS_URL with an ACL password: shared through Redis, the password neither in the command line nor in the logs", async () => {
    const password = "redis-acl-password-not-for-logs";
    const redis = await startRedis({ user: { name: "chat", password, rules: "~* &* +@all" } });
    const output = [];
    const demo = await startDemo([], { env: { REDIS_URL: redis.url, RUST_LOG: "info" }, output });
    try {
      await until(() => output.some((l) => l.includes("sharing broadcasts and revocations through Redis")), "the Redis log line");
      const all = output.join("\n");
      assert.ok(!all.includes(password), "the password is in the logs");
      assert.ok(!(await commandLine(demo.pid)).includes(password));
    } finally {
      await demo.stop();
      await redis.cleanup();
    }
  });

  test("--help shows no secret from the environment; a secret given twice is refused without being printed", async () => {
    const env = { ...process.env, JWT_SECRET: "env-secret-0123456789-0123456789-xyz", REDIS_URL: "redis://u:env-redis-pass@h/", CHAT_DEMO_ADMIN_PASSWORD: "env-admin-pass" };
    const help = await run(["--help"], env);
    assert.equal(help.code, 0);
    for (const value of ["env-secret-0123456789", "env-redis-pass", "env-admin-pass"]) {
      assert.ok(!help.out.includes(value), `--help prints ${value}`);
    }
    assert.match(help.out, /--secret-file/);
    const dir = await mkdtemp(join(tmpdir(), "secrets-"));
    try {
      await writeFile(join(dir, "jwt"), "file-secret-0123456789-0123456789-abc");
      const twice = await run(["--secret-file", join(dir, "jwt"), "--data-dir", dir, "--port", "0"], env);
      assert.notEqual(twice.code, 0);
      assert.match(twice.out, /--secret-file and --secret \/ JWT_SECRET both give it/);
      assert.ok(!twice.out.includes("file-secret") && !twice.out.includes("env-secret"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Runs the demo binary to its end (`--help`, a refused start): its exit code and output. */
function run(args, env) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(DEMO_BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`chat-demo ${args.join(" ")} did not end within ${WAIT} ms`));
    }, WAIT);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolveRun({ code, out });
    });
  });
}

test("a key URL on plain http off loopback (a compose file's http://keycloak:8080) is refused with what to do", async () => {
  const dir = await mkdtemp(join(tmpdir(), "insecure-url-"));
  try {
    const refused = await run(
      ["--oidc-issuer", "http://keycloak:8080/realms/chat", "--audience", "chat", "--data-dir", dir, "--port", "0"],
      { ...process.env, JWT_SECRET: TEST_SECRET },
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /http:\/\/keycloak:8080/);
    assert.match(refused.out, /plain http only for a loopback host/);
    assert.match(refused.out, /https/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("/backchannel-logout is limited per client address: a flood from one is answered 429, another address is not", async () => {
  const demo = await startDemo();
  const post = (from) =>
    new Promise((resolvePost, reject) => {
      const url = new URL("/backchannel-logout", demo.url);
      const body = "logout_token=not-a-token";
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          localAddress: from,
          headers: { "content-type": "application/x-www-form-urlencoded", "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolvePost(res.statusCode));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  try {
    const flood = [];
    for (let i = 0; i < 150; i++) flood.push(await post("127.0.0.2"));
    assert.ok(flood.includes(429), `150 logout requests from one address, none limited: ${[...new Set(flood)]}`);
    assert.equal(flood.filter((s) => s !== 429).length >= 100, true, "an identity provider's burst of 100 goes through");
    assert.notEqual(await post("127.0.0.3"), 429, "another address is limited too");
  } finally {
    await demo.stop();
  }
});
