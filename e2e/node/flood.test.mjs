// Under a flood, everyone else still gets in: one address (loopback has many: 127.0.0.2,
// 127.0.0.3, ... are distinct clients here) that opens sockets and never authenticates holds at
// most its share of the pending places, while a client from another address authenticates.
// Real demo process, the stock socket.io-client (its `localAddress` picks the source address).
import { after, test } from "node:test";
import assert from "node:assert/strict";

import { readFile } from "node:fs/promises";
import { request } from "node:http";

import { io } from "socket.io-client";

import { startDemo, testToken, until } from "./demo-server.mjs";

const WAIT = 10_000;
const sockets = [];
after(() => sockets.forEach((s) => s.close()));

/** Opens a socket from `localAddress`; resolves "connected" or the connect_error message. */
function open(url, localAddress) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, localAddress });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no outcome within ${WAIT} ms`)), WAIT);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve({ socket, outcome: "connected" });
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve({ socket, outcome: err.message });
    });
  });
}

test("a flood of silent sockets from one address fills its share; another address still authenticates", async () => {
  // 20 pending places, so the default share per address is 10 (1 %, at least 10).
  const demo = await startDemo(["--max-pending", "20", "--auth-timeout-ms", "30000"]);
  try {
    const flood = await Promise.all(Array.from({ length: 25 }, () => open(demo.url, "127.0.0.2")));
    const outcomes = flood.map((f) => f.outcome);
    assert.equal(outcomes.filter((o) => o === "connected").length, 10, outcomes.join(","));
    assert.equal(outcomes.filter((o) => o === "server_busy").length, 15);

    const started = Date.now();
    const other = await open(demo.url, "127.0.0.3");
    assert.equal(other.outcome, "connected", "another address is not refused");
    const authenticated = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("not authenticated within 10 s")), WAIT);
      other.socket.once("authenticated", (info) => {
        clearTimeout(timer);
        resolve(info);
      });
      other.socket.once("unauthorized", (err) => reject(new Error(`unauthorized: ${err.data.code}`)));
    });
    other.socket.emit("authenticate", { token: testToken("alice") });
    assert.equal((await authenticated).sub, "alice");
    const ms = Date.now() - started;
    console.log(`# the other address authenticated ${ms} ms into the flood`);
    assert.ok(ms < 2_000, `${ms} ms`);

    // The flood's places come back as its sockets leave: the address gets in again.
    for (const f of flood) f.socket.close();
    await until(async () => (await open(demo.url, "127.0.0.2")).outcome === "connected", "a place for 127.0.0.2 again");
  } finally {
    await demo.stop();
  }
});

/** `POST /login` from `localAddress`; resolves `{ status, retryAfter }`. */
function loginFrom(url, localAddress, username, password) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username, password });
    const req = request(
      `${url}/login`,
      { method: "POST", localAddress, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode, retryAfter: res.headers["retry-after"] }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error("login timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** The process's peak resident memory, in MiB (VmHWM). */
async function peakRssMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmHWM:\s+(\d+) kB/)[1]) / 1024;
}

test("300 concurrent bad logins from one address: 429 with Retry-After, a good login from another address in under 2 s, memory bounded", async () => {
  const demo = await startDemo();
  try {
    const before = await peakRssMiB(demo.pid);
    const flood = Array.from({ length: 300 }, (_, i) => loginFrom(demo.url, "127.0.0.2", "alice", `wrong-${i}`));
    const started = Date.now();
    const good = await loginFrom(demo.url, "127.0.0.3", "bob", "builder");
    const ms = Date.now() - started;
    assert.equal(good.status, 200);
    const statuses = (await Promise.all(flood)).map((r) => r);
    const limited = statuses.filter((r) => r.status === 429);
    const refused = statuses.filter((r) => r.status === 401);
    const peak = await peakRssMiB(demo.pid);
    console.log(`# good login in ${ms} ms; flood: ${refused.length} × 401, ${limited.length} × 429; peak RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MiB`);
    assert.ok(ms < 2_000, `the good login took ${ms} ms`);
    assert.ok(refused.length <= 12, `${refused.length} bad logins were hashed (burst 10)`);
    assert.equal(limited.length + refused.length, 300, "every other answer is 429");
    assert.ok(limited.every((r) => Number(r.retryAfter) >= 1), "429 says when to retry");
    // 300 hashes at once would take ~5.7 GiB (19 MiB each); two at a time, a few hundred MiB at
    // most (allocator arenas keep some of what the hashes freed).
    assert.ok(peak - before < 512, `peak RSS grew by ${(peak - before).toFixed(0)} MiB`);
  } finally {
    await demo.stop();
  }
});
