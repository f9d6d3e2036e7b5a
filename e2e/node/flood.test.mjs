// Under a flood, everyone else still gets in: one address (loopback has many: 127.0.0.2,
// 127.0.0.3, ... are distinct clients here) that opens sockets and never authenticates holds at
// most its share of the pending places, while a client from another address authenticates.
// Real demo process, the stock socket.io-client (its `localAddress` picks the source address).
import { after, test } from "node:test";
import assert from "node:assert/strict";

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
