// Starts the real chat-demo binary on a free port for the JS tests (browser and client helper).
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The HMAC secret the test servers use, so tests can also make their own tokens. */
export const TEST_SECRET = "js-tests-secret-0123456789abcdef0123";

/** The chat-demo binary the tests start (`cargo build -p chat-demo`; `CHAT_DEMO_BIN` overrides). */
export const DEMO_BIN = process.env.CHAT_DEMO_BIN ?? join(REPO, "target/debug/chat-demo");

/**
 * Runs `chat-demo --port 0` with a throwaway data directory and `--secret TEST_SECRET`.
 * Resolves once it listens.
 *
 * Options: `bin` (another binary), `port` (default 0: a free one), `cwd`, `dataDir` (shared; then kept by `stop`), `secret`
 * (`null`: none, the demo generates its own), `env` (added to the environment), `output` (an
 * array that collects every line the process prints, stdout and stderr).
 */
export async function startDemo(args = [], { bin = DEMO_BIN, port = 0, cwd, dataDir, secret = TEST_SECRET, env = {}, output } = {}) {
  const ownDir = dataDir === undefined;
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), "chat-demo-")));
  const flags = ["--port", String(port), "--data-dir", dir, ...(secret === null ? [] : ["--secret", secret]), ...args];
  const child = spawn(bin, flags, {
    cwd,
    stdio: ["ignore", "pipe", output ? "pipe" : "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn", ...env },
  });
  if (output) createInterface({ input: child.stderr }).on("line", (line) => output.push(line));
  let exited = null;
  child.once("exit", (code) => (exited = code));
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error("chat-demo did not start within 30 s")), 30_000);
    child.once("error", (e) => reject(new Error(`cannot start ${bin}: ${e.message} (run cargo build -p chat-demo)`)));
    child.once("exit", (code) => reject(new Error(`chat-demo exited early with ${code}${output ? `:\n${output.join("\n")}` : ""}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      output?.push(line);
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
  });
  return {
    url,
    dataDir: dir,
    /** The process id (for `/proc/<pid>/status`). */
    pid: child.pid,
    /** The exit code once it exited, else `null`. */
    get exitCode() {
      return exited;
    },
    /** Kills the process with `signal` (a crash with `SIGKILL`) and waits for it to exit. */
    async kill(signal = "SIGKILL") {
      const exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
      child.kill(signal);
      await exited;
    },
    async stop() {
      child.kill();
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An HS256 token for `sub`, signed by the test with `key` (default `TEST_SECRET`), so it can pick
 * `jti`, `iat`, the lifetime, the role (`admin` for the user `admin`) and the chat `rooms`.
 */
export function testToken(
  sub,
  { key = TEST_SECRET, jti = randomUUID(), iat = Math.floor(Date.now() / 1000) - 1, ttl = 600, role, rooms } = {},
) {
  const b64url = (v) => Buffer.from(v).toString("base64url");
  const claims = { sub, jti, iat, exp: iat + ttl, role: role ?? (sub === "admin" ? "admin" : "user") };
  if (rooms) claims.rooms = rooms;
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** Resolves with the first argument of the next `event` on `socket`; rejects after `ms`. */
export function nextEvent(socket, event, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/** `POST /login` → the token (throws on a non-200). */
export async function login(url, username, password) {
  const res = await fetch(`${url}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login ${username}: HTTP ${res.status}`);
  return (await res.json()).token;
}

/**
 * `POST /admin/revoke` with `body` (`{ sub }` or `{ jti }`), as the demo's admin → the response.
 * `admin` is an admin token to reuse (the demo limits logins per address); else it logs in.
 */
export async function adminRevoke(url, body, admin) {
  admin ??= await login(url, "admin", "admin-password");
  return fetch(`${url}/admin/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Resolves when `predicate()` holds, polling; rejects after `ms`. */
export async function until(predicate, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * A throwaway redis-server on a free loopback port, with an append-only file in a temporary
 * directory (so a restart keeps the data, as a production Redis with persistence would).
 */
export async function startRedis() {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "redis-"));
  let child = null;
  const launch = () =>
    new Promise((resolveReady, reject) => {
      child = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir", dir],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const timer = setTimeout(() => reject(new Error("redis-server did not start within 10 s")), 10_000);
      child.once("error", (e) => reject(new Error(`cannot start redis-server: ${e.message}`)));
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (/Ready to accept connections/.test(line)) {
          clearTimeout(timer);
          resolveReady();
        }
      });
    });
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}/?protocol=resp3`,
    /** Kills the server (an outage). */
    stop,
    /** Starts it again on the same port and data. */
    start: launch,
    async cleanup() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
