// Starts the real chat-demo binary on a free port for the JS tests (browser and client helper).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { io as ioClient } from "socket.io-client";

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
    child.once("error", (e) => (clearTimeout(timer), reject(new Error(`cannot start ${bin}: ${e.message} (run cargo build -p chat-demo)`))));
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`chat-demo exited early with ${code}${output ? `:\n${output.join("\n")}` : ""}`))));
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

/** The `iss` of the tokens the demo issues itself when started without --issuer. */
export const DEMO_ISSUER = "chat-demo";

/** The Chromium the browser tests drive (Debian's; scripts/test.sh installs it), and its flags. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * An HS256 token for `sub`, signed by the test with `key` (default `TEST_SECRET`), so it can pick
 * `jti`, `iat`, the lifetime, the role (`admin` for the user `admin`), the chat `rooms` and `iss`
 * (none by default: a token of another service sharing the secret; `DEMO_ISSUER` for one the
 * demo could have issued, as its admin rights need).
 */
export function testToken(
  sub,
  { key = TEST_SECRET, jti = randomUUID(), iat = Math.floor(Date.now() / 1000) - 1, ttl = 600, role, rooms, iss } = {},
) {
  const b64url = (v) => Buffer.from(v).toString("base64url");
  const claims = { sub, jti, iat, exp: iat + ttl, role: role ?? (sub === "admin" ? "admin" : "user") };
  if (rooms) claims.rooms = rooms;
  if (iss !== undefined) claims.iss = iss;
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** The payload of a JWT, read, not verified. */
const payloadOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url"));

/** The `exp` of a JWT (read, not verified). */
export const expOf = (token) => payloadOf(token).exp;

/** `{ jti, exp }` of a JWT: the body of `/admin/revoke` that revokes it until it expires. */
export function jtiAndExp(token) {
  const { jti, exp } = payloadOf(token);
  return { jti, exp };
}

/** The revocation hash (of 16) the library stores a field (`jti:…`, `sub:…`) in: FNV-1a 64. */
export function shardOf(field) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(field)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return Number(h % 16n);
}

/** The key of the hash holding `field`, under `prefix` (the default one, or a Cluster's tag). */
export const storedIn = (field, prefix = "socketioxide-jwt:revoked:") => `${prefix}all:${shardOf(field)}`;

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
 * `POST /admin/revoke` with `body` (`{ sub }`, `{ sid }`, `{ jti, exp }` or `{ token }`), as the
 * demo's admin → the response.
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

/**
 * `POST /admin/rooms` with `body` (`{ sub, rooms }`), as the demo's admin → the response; `admin`
 * as for `adminRevoke`.
 */
export async function adminSetRooms(url, body, admin) {
  admin ??= await login(url, "admin", "admin-password");
  return fetch(`${url}/admin/rooms`, {
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
/**
 * A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, made with
 * openssl in `dir` (PEM files: ca.crt, server.crt/key, client.crt/key).
 */
export async function makeCertificates(dir) {
  const run = (...args) =>
    new Promise((resolveRun, reject) => {
      const child = spawn("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      child.once("error", (e) => reject(new Error(`cannot run openssl: ${e.message}`)));
      child.once("exit", (code) => (code === 0 ? resolveRun() : reject(new Error(`openssl ${args[0]}: ${err}`))));
    });
  await run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.crt");
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"],
    ["client", "extendedKeyUsage=clientAuth"],
  ]) {
    await run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`,
      "-keyout", `${name}.key`, "-out", `${name}.csr`);
    await writeFile(join(dir, `${name}.ext`), ext);
    await run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
      "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`);
  }
  return {
    ca: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
}

/**
 * A throwaway redis-server on a free port. `tls`: TLS only (no plain port), client certificates
 * required, certificates made for the test (returned as `certs`). `user`: an ACL user
 * `{ name, password, rules }`, the default user turned off.
 */
export async function startRedis({ tls = false, user = null } = {}) {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "redis-"));
  const certs = tls ? await makeCertificates(dir) : null;
  const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir", dir];
  if (tls) {
    args.push("--port", "0", "--tls-port", String(port), "--tls-cert-file", certs.serverCert,
      "--tls-key-file", certs.serverKey, "--tls-ca-cert-file", certs.ca, "--tls-auth-clients", "yes");
  } else {
    args.push("--port", String(port));
  }
  if (user) {
    args.push("--user", user.name, "on", `>${user.password}`, ...user.rules.split(" "), "--user", "default", "off");
  }
  let child = null;
  const launch = () =>
    new Promise((resolveReady, reject) => {
      child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "inherit"] });
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
  const auth = user ? `${user.name}:${user.password}@` : "";
  return {
    url: tls ? `rediss://${auth}127.0.0.1:${port}/` : `redis://${auth}127.0.0.1:${port}/?protocol=resp3`,
    port,
    certs,
    /** The demo's flags for this server: --redis and, with TLS, the certificates. */
    demoArgs: () =>
      tls
        ? ["--redis", `rediss://${auth}127.0.0.1:${port}/`, "--redis-ca", certs.ca, "--redis-cert", certs.clientCert,
          "--redis-key", certs.clientKey]
        : ["--redis", `redis://${auth}127.0.0.1:${port}/?protocol=resp3`],
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

/** Runs `redis-cli -p port args...` and returns its output (for checks the tests make). */
export function redisCli(port, ...args) {
  return new Promise((resolveCli, reject) => {
    const child = spawn("redis-cli", ["-p", String(port), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.once("error", (e) => reject(new Error(`cannot run redis-cli: ${e.message}`)));
    child.once("exit", () => resolveCli(out.trim()));
  });
}

/**
 * A Sentinel setup on loopback: a master, a replica, and three Sentinels (quorum 2) watching
 * the master as `mymaster`, with short timeouts (down after 1 s). Resolves once every Sentinel
 * knows the replica and the other Sentinels, so that a failover can happen.
 */
export async function startSentinels({ master = "mymaster", tls = false } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "redis-sentinel-"));
  const children = [];
  const launch = (args, ready) => launchRedis(args, ready, children);
  const certs = tls ? await makeCertificates(dir) : null;
  // With TLS: no plain port, client certificates required, and replication and the Sentinels'
  // own links to Redis over TLS too.
  const tlsSettings = tls
    ? [["tls-cert-file", certs.serverCert], ["tls-key-file", certs.serverKey], ["tls-ca-cert-file", certs.ca],
      ["tls-client-cert-file", certs.clientCert], ["tls-client-key-file", certs.clientKey],
      ["tls-auth-clients", "yes"], ["tls-replication", "yes"]]
    : [];
  const listen = (port) => (tls ? [["port", "0"], ["tls-port", String(port)], ...tlsSettings] : [["port", String(port)]]);
  const asFlags = (settings) => settings.flatMap(([k, v]) => [`--${k}`, v]);
  const cli = (port, ...args) =>
    redisCli(port, ...(tls ? ["--tls", "--cacert", certs.ca, "--cert", certs.clientCert, "--key", certs.clientKey] : []), ...args);
  const [masterPort, replicaPort, ...sentinelPorts] = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
  const base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const masterChild = await launch([...asFlags(listen(masterPort)), "--dir", dir, ...base], /Ready to accept connections/);
  await launch([...asFlags(listen(replicaPort)), "--dir", dir, "--replicaof", "127.0.0.1", String(masterPort), ...base],
    /Ready to accept connections/);
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    await writeFile(
      conf,
      [
        ...listen(port).map(([k, v]) => `${k} ${v}`),
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${master} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${master} 1000`,
        `sentinel failover-timeout ${master} 3000`,
        `sentinel parallel-syncs ${master} 1`,
        "",
      ].join("\n"),
    );
    await launch([conf, "--sentinel"], /Sentinel ID is|Ready to accept connections/);
  }
  // Every Sentinel must know the replica and the two other Sentinels before a failover can happen.
  await until(async () => {
    for (const port of sentinelPorts) {
      const replicas = await cli(port, "SENTINEL", "replicas", master);
      const sentinels = await cli(port, "SENTINEL", "sentinels", master);
      if (!replicas.includes(String(replicaPort))) return false;
      if (sentinelPorts.filter((p) => p !== port).some((p) => !sentinels.includes(String(p)))) return false;
    }
    return true;
  }, "the Sentinels to know the replica and each other", 30_000);
  return {
    master,
    masterPort,
    replicaPort,
    certs,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`),
    /** `redis-cli` on `port` (over TLS with the client certificate when the setup is TLS). */
    cli,
    /** The demo's flags for this setup (with TLS: a `rediss://` URL and the certificates). */
    demoArgs: () => [
      ...(tls ? ["--redis", "rediss://127.0.0.1/", "--redis-ca", certs.ca, "--redis-cert", certs.clientCert, "--redis-key", certs.clientKey] : []),
      ...sentinelPorts.flatMap((p) => ["--redis-sentinel", `127.0.0.1:${p}`]),
      "--redis-sentinel-master", master,
    ],
    /** Kills the master with SIGKILL. */
    async killMaster() {
      const exited = new Promise((r) => masterChild.once("exit", r));
      masterChild.kill("SIGKILL");
      await exited;
    },
    /** The port of the master the Sentinels name now. */
    async currentMasterPort() {
      const out = await cli(sentinelPorts[0], "SENTINEL", "get-master-addr-by-name", master);
      return Number(out.split("\n")[1]);
    },
    async cleanup() {
      await killAll(children, dir);
    },
  };
}

/** Starts `redis-server args`, resolves with the child once a line matches `ready`. */
function launchRedis(args, ready, children) {
  return new Promise((resolveReady, reject) => {
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    const timer = setTimeout(() => reject(new Error(`redis-server ${args[0]} did not start within 10 s`)), 10_000);
    child.once("error", (e) => reject(new Error(`cannot start redis-server: ${e.message}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (ready.test(line)) {
        clearTimeout(timer);
        resolveReady(child);
      }
    });
  });
}

/** SIGKILLs every child still running, then removes `dir`. */
async function killAll(children, dir) {
  await Promise.all(
    children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => { c.once("exit", r); c.kill("SIGKILL"); }))),
  );
  await rm(dir, { recursive: true, force: true });
}

/**
 * A Redis Cluster on loopback: `masters` masters with `replicas` replicas each, every slot
 * assigned, a node declared failed after 2 s. Resolves once every node reports
 * `cluster_state:ok`.
 */
export async function startCluster({ masters = 3, replicas = 0 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "redis-cluster-"));
  const children = [];
  const ports = [];
  const byPort = new Map();
  for (let i = 0; i < masters * (1 + replicas); i++) {
    const [port, bus] = [await freePort(), await freePort()];
    ports.push(port);
    byPort.set(port, await launchRedis(
      ["--port", String(port), "--cluster-port", String(bus), "--bind", "127.0.0.1", "--dir", dir,
        "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`,
        "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no"],
      /Ready to accept connections/,
      children,
    ));
  }
  const created = await new Promise((resolveCreate, reject) => {
    const child = spawn("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas", String(replicas), "--cluster-yes"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.once("error", (e) => reject(new Error(`cannot run redis-cli --cluster: ${e.message}`)));
    child.once("exit", (code) => resolveCreate({ code, out }));
  });
  if (created.code !== 0) throw new Error(`redis-cli --cluster create failed: ${created.out}`);
  const allOk = async (alive) => {
    for (const port of alive) {
      if (!(await redisCli(port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
    }
    return true;
  };
  await until(() => allOk(ports), "every cluster node to report cluster_state:ok", 30_000);
  if (replicas > 0) {
    // Every master's replicas attached and in sync: a failover can happen.
    await until(async () => {
      const info = await Promise.all(ports.map((p) => redisCli(p, "INFO", "replication")));
      return info.filter((i) => i.includes("role:slave") && i.includes("master_link_status:up")).length === masters * replicas;
    }, "every replica to be in sync with its master", 30_000);
  }
  return {
    ports,
    /** The port of the master whose shard serves the sharded channel `channel`. */
    async masterOfChannel(channel) {
      for (const port of ports) {
        const role = await redisCli(port, "ROLE");
        if (!role.startsWith("master")) continue;
        if ((await redisCli(port, "PUBSUB", "SHARDCHANNELS")).split("\n").includes(channel)) return port;
      }
      return null;
    },
    /** SIGKILLs the node on `port`; resolves when it has exited. */
    async kill(port) {
      const child = byPort.get(port);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    /** Whether every node but `dead` reports `cluster_state:ok`. */
    okWithout: (dead) => allOk(ports.filter((p) => p !== dead)),
    /** The demo's flags for this cluster. */
    demoArgs: () => ports.flatMap((p) => ["--redis-cluster", `127.0.0.1:${p}`]),
    /** `redis-cli -c` (following redirections) on the first node. */
    cli: (...args) => redisCli(ports[0], "-c", ...args),
    async cleanup() {
      await killAll(children, dir);
    },
  };
}

/**
 * A stock socket.io-client socket over websocket, without reconnection, recording every event
 * it receives in `socket.received` (`{ event, args }`); pushed onto `track` for cleanup.
 */
export function openSocket(url, track, options = {}) {
  const socket = ioClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...options });
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push({ event, args }));
  track.push(socket);
  return socket;
}

/**
 * Connects and emits `authenticate` with `token`; resolves with the socket on `authenticated`,
 * rejects with an error carrying the refusal's `code` on `unauthorized` (each bounded by `ms`).
 */
export async function authenticatedSocket(url, token, track, ms = 10_000) {
  const s = openSocket(url, track);
  await nextEvent(s, "connect", ms);
  const outcome = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no authenticated or unauthorized within ${ms} ms`)), ms);
    s.once("authenticated", () => (clearTimeout(timer), resolve(s)));
    s.once("unauthorized", (err) => (clearTimeout(timer), reject(Object.assign(new Error(err.message), { code: err.code, socket: s }))));
  });
  s.emit("authenticate", { token });
  return outcome;
}

/** A handshake-mode socket (`auth: { token }`, an `openSocket` socket), resolved once connected. */
export async function handshakeSocket(url, token, track, ms = 10_000) {
  const s = openSocket(url, track, { auth: { token } });
  await nextEvent(s, "connect", ms);
  return s;
}

/** The refusal code `authenticatedSocket` gets for `token`; fails the test (`why`) if accepted. */
export function refusalCode(url, token, track, why = "this token must be refused", ms = 10_000) {
  return authenticatedSocket(url, token, track, ms).then(
    () => assert.fail(why),
    (e) => e.code,
  );
}

/** The texts of the `chat message` events `socket` received (an `openSocket` socket). */
export const chatTexts = (socket) => socket.received.filter((m) => m.event === "chat message").map((m) => m.args[0].text);

/** Whether `socket` was refused with `revoked` while connected. */
export const revokedOn = (socket) => socket.received.some((m) => m.event === "unauthorized" && m.args[0].code === "revoked");

/**
 * Emits numbered `chat message`s (`<prefix>-<n>`) from `sender` until `receiver` hears one of
 * them: how a test waits for broadcasts across instances to flow again after a fault.
 */
export async function untilHeard(sender, receiver, prefix, what, ms) {
  let n = 0;
  await until(
    () => {
      sender.emit("chat message", { text: `${prefix}-${n++}` });
      return chatTexts(receiver).some((t) => t.startsWith(`${prefix}-`));
    },
    what,
    ms,
  );
}
