// What socketio-jwt and socketio-auth let an app do (issue 36), against the real demo with the
// stock socket.io-client, in both modes.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, describe, test } from "node:test";

import { io as ioClient } from "socket.io-client";

import { TEST_SECRET, authenticatedSocket, login, refusalCode, startDemo, testToken } from "./demo-server.mjs";

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

/** Connects in handshake mode with `token`: the socket once connected, or the refusal's code. */
async function handshake(url, token) {
  const s = ioClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, auth: { token } });
  sockets.push(s);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no authenticated or connect_error within 10 s")), 10_000);
    s.once("authenticated", () => (clearTimeout(timer), resolve({ socket: s })));
    s.once("connect_error", (err) => (clearTimeout(timer), resolve({ code: err.message })));
  });
}

describe("HMAC secrets rotated without a kid: --secret repeated, the first signs, every one verifies", () => {
  const PREVIOUS = "the-previous-secret-0123456789abcdef";
  const NEITHER = "a-secret-the-demo-never-had-0123456789";

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode`, async () => {
      const demo = await startDemo(["--mode", mode, "--secret", PREVIOUS]);
      try {
        const own = await login(demo.url, "alice", "wonderland");
        const previous = testToken("alice", { key: PREVIOUS });
        const forged = testToken("alice", { key: NEITHER });
        if (mode === "message") {
          for (const token of [own, previous]) await authenticatedSocket(demo.url, token, sockets);
          assert.equal(await refusalCode(demo.url, forged, sockets), "invalid_token");
        } else {
          for (const token of [own, previous]) assert.ok((await handshake(demo.url, token)).socket);
          assert.equal((await handshake(demo.url, forged)).code, "invalid_token");
        }
        // The demo signs with the first secret given.
        const [input, signature] = [own.split(".").slice(0, 2).join("."), own.split(".")[2]];
        assert.equal(createHmac("sha256", TEST_SECRET).update(input).digest("base64url"), signature);
      } finally {
        await demo.stop();
      }
    });
  }
});
