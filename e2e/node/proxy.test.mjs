// Behind a real reverse proxy: nginx (Debian's package, started by the test) in front of two
// demo instances on one Redis, as docs/OPERATING.md deploys it. WebSocket upgrade and
// long-polling with sticky sessions (and what round-robin does to polling), TLS terminated at
// nginx, the client's address reaching the demo's limits through X-Forwarded-For (one abusive
// client does not lock out another, though both reach the demo from nginx's address), and
// nginx's read timeout not cutting authenticated sockets (Engine.IO's pings keep them alive).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { io } from "socket.io-client";

import { freePort, makeCertificates, nextEvent, startDemo, startRedis, testToken, until } from "./demo-server.mjs";

const WAIT = 10_000;
/** Two clients, as nginx sees them: distinct loopback source addresses. */
const ABUSER = "127.0.0.2";
const ALICE = "127.0.0.3";
/** nginx's read timeout: an idle proxied connection is closed after it. */
const PROXY_READ_TIMEOUT_SECS = 3;

const NGINX = ["/usr/sbin/nginx", "nginx"].find((bin) => spawnSync(bin, ["-v"]).status === 0);

/** nginx with two upstreams over the two instances: sticky (by the client's address), and round-robin. */
async function startNginx(dir, backends, certs) {
  const [plain, tls, roundRobin, single] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const servers = backends.map((port) => `server 127.0.0.1:${port};`).join(" ");
  const proxy = (upstream) => `
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout ${PROXY_READ_TIMEOUT_SECS}s;`;
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) await mkdir(join(dir, sub), { recursive: true });
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  # Sticky: every request of one client address goes to the same instance (ip_hash would take
  # IPv4 addresses by their first three bytes: all of 127.0.0.x would share one instance).
  upstream sticky { hash $remote_addr consistent; ${servers} }
  upstream round_robin { ${servers} }
  # The first instance alone: every client of the limits test on the same instance.
  upstream first { server 127.0.0.1:${backends[0]}; }
  server {
    listen 127.0.0.1:${plain};
    listen 127.0.0.1:${tls} ssl;
    ssl_certificate ${certs.serverCert};
    ssl_certificate_key ${certs.serverKey};
    location / {${proxy("sticky")}
    }
  }
  server {
    listen 127.0.0.1:${roundRobin};
    location / {${proxy("round_robin")}
    }
  }
  server {
    listen 127.0.0.1:${single};
    location / {${proxy("first")}
    }
  }
}`;
  await writeFile(join(dir, "nginx.conf"), conf);
  const child = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const up = async (port) => {
    await until(
      () =>
        new Promise((r) => {
          const req = request({ host: "127.0.0.1", port, path: "/config.json", timeout: 500 }, (res) => {
            res.resume();
            r(res.statusCode === 200);
          });
          req.on("error", () => r(false));
          req.end();
        }),
      `nginx on ${port} (${stderr})`,
    );
  };
  await up(plain);
  await up(roundRobin);
  await up(single);
  return {
    plain: `http://127.0.0.1:${plain}`,
    tls: `https://127.0.0.1:${tls}`,
    roundRobin: `http://127.0.0.1:${roundRobin}`,
    first: `http://127.0.0.1:${single}`,
    async stop() {
      const exited = new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** `POST /login` through `base`, from the source address `from` (with `headers`): the status. */
function loginFrom(base, from, username, password, headers = {}) {
  const url = new URL("/login", base);
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        localAddress: from,
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const sockets = [];
/** A socket through the proxy (`localAddress`: a source address, websocket only: the polling transport of Node's client cannot choose one). */
function open(url, opts = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, ...opts });
  sockets.push(socket);
  return socket;
}

/** Connects, authenticates with a token of `sub`: resolves the socket, or rejects with the refusal. */
async function authenticated(url, sub, opts) {
  const socket = open(url, opts);
  await nextEvent(socket, "connect", WAIT);
  socket.emit("authenticate", { token: testToken(sub) });
  const outcome = await Promise.race([
    nextEvent(socket, "authenticated", WAIT).then(() => null),
    nextEvent(socket, "unauthorized", WAIT),
  ]);
  if (outcome) throw new Error(`refused: ${outcome.code}`);
  return socket;
}

describe("behind nginx: two instances on Redis", { skip: !NGINX && "nginx is not installed (scripts/test.sh installs it)" }, () => {
  let redis, instances, nginx, dir, certs;
  const output = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nginx-"));
    certs = await makeCertificates(dir);
    redis = await startRedis();
    const args = [
      ...redis.demoArgs(),
      "--trusted-proxy", "127.0.0.1",
      "--max-pending-per-address", "20",
      "--auth-timeout-ms", "8000",
      "--ping-interval-ms", "1000",
    ];
    instances = [await startDemo(args, { env: { RUST_LOG: "info" }, output }), await startDemo(args)];
    nginx = await startNginx(dir, instances.map((d) => new URL(d.url).port), certs);
  });
  after(async () => {
    sockets.forEach((s) => s.close());
    await nginx?.stop();
    await Promise.all((instances ?? []).map((d) => d.stop()));
    await redis?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("WebSocket upgrade, and long-polling on sticky sessions: authenticated, whoami, a broadcast between them", async () => {
    const ws = await authenticated(nginx.plain, "alice", { transports: ["websocket"] });
    const polling = await authenticated(nginx.plain, "bob", { transports: ["polling"] });
    assert.equal(polling.io.engine.transport.name, "polling");
    assert.equal((await ws.emitWithAck("whoami")).sub, "alice");
    const heard = nextEvent(polling, "chat message", WAIT);
    ws.emit("chat message", { text: "through nginx" });
    assert.equal((await heard).text, "through nginx");
  });

  test("without sticky sessions, long-polling fails (a poll reaches the instance that does not know the session)", async () => {
    const socket = open(nginx.roundRobin, { transports: ["polling"] });
    const outcome = await Promise.race([
      nextEvent(socket, "connect", WAIT).then(() => {
        socket.emit("authenticate", { token: testToken("carol") });
        return Promise.race([
          nextEvent(socket, "authenticated", WAIT).then(() => "authenticated"),
          nextEvent(socket, "disconnect", WAIT).then(() => "disconnected"),
        ]);
      }),
      nextEvent(socket, "connect_error", WAIT).then(() => "connect_error"),
    ]);
    assert.notEqual(outcome, "authenticated");
  });

  test("TLS terminated at nginx: wss:// and https:// to the instances", async () => {
    const ca = await readFile(certs.ca);
    const socket = await authenticated(nginx.tls, "dave", { transports: ["websocket"], ca });
    assert.equal((await socket.emitWithAck("whoami")).sub, "dave");
  });

  test("one abusive client does not lock another out: logins and pending places count per client address", async () => {
    // 12 bad logins from the abuser: its quota (a burst of 10) runs out.
    const statuses = [];
    // It forges both forwarding headers, a new address each time: nginx appends what it saw to
    // X-Forwarded-For (the header the demo reads) and passes Forwarded on (which it never reads).
    for (let i = 0; i < 12; i++) {
      const forged = `198.51.100.${i + 1}`;
      const headers = { "x-forwarded-for": forged, forwarded: `for=${forged}` };
      statuses.push(await loginFrom(nginx.first, ABUSER, "alice", "wrong", headers));
    }
    assert.ok(statuses.includes(429), `the abuser was never limited: ${statuses}`);
    // Alice, through the same nginx (the same peer address for the demo), still logs in.
    assert.equal(await loginFrom(nginx.first, ALICE, "alice", "wonderland"), 200);

    // The abuser holds silent sockets until its pending places are gone (20 per address)...
    const silent = [];
    let busy = false;
    for (let i = 0; i < 30 && !busy; i++) {
      const s = open(nginx.first, { transports: ["websocket"], localAddress: ABUSER });
      silent.push(s);
      busy = await Promise.race([
        nextEvent(s, "connect", WAIT).then(() => false),
        nextEvent(s, "connect_error", WAIT).then((e) => e.message === "server_busy"),
      ]);
    }
    assert.ok(busy, "the abuser's silent sockets were never refused: the per-address share did not hold");
    // ...and Alice's socket, on the same instance through the same nginx, authenticates anyway.
    const alice = await authenticated(nginx.first, "alice", { transports: ["websocket"], localAddress: ALICE });
    assert.equal((await alice.emitWithAck("whoami")).sub, "alice");
    silent.forEach((s) => s.close());
    // The instance's log names the client, not nginx.
    const plain = () => output.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ""));
    await until(() => plain().some((l) => l.includes(`ip=${ABUSER}`)), "a log line naming the abuser's address");
    assert.ok(!plain().some((l) => /ip=127\.0\.0\.1\b/.test(l)), "a log line names nginx as the client");
  });

  test(`nginx's ${PROXY_READ_TIMEOUT_SECS} s read timeout does not cut an idle authenticated socket: the pings pass`, async () => {
    const socket = await authenticated(nginx.plain, "erin", { transports: ["websocket"] });
    let disconnected = null;
    socket.on("disconnect", (reason) => (disconnected = reason));
    // Three read timeouts with nothing sent by either application.
    await new Promise((r) => setTimeout(r, PROXY_READ_TIMEOUT_SECS * 3 * 1000));
    assert.equal(disconnected, null);
    assert.equal((await socket.emitWithAck("whoami")).sub, "erin");
  });
});
