// A revocation that Redis refuses every time (here: an ACL that lets the demo write none of the
// revocation hash holding the user "poison") is set aside after a few tries, so that the revocations queued after it
// still reach the other instances. Two chat-demo processes on a throwaway redis-server.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

import { io } from "socket.io-client";

import { adminRevoke, nextEvent, shardOf, startDemo, startRedis, testToken } from "./demo-server.mjs";

const run = promisify(execFile);
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

test("a revocation Redis always refuses does not block the ones after it", async () => {
  const redis = await startRedis();
  cleanup.push(() => redis.cleanup());
  const port = new URL(redis.url).port;
  // Everything but writing the revocation hash that holds user "poison" (revocations are spread
  // over 16 hashes by FNV-1a of their field; "carol" lives in another one).
  const prefix = "socketioxide-jwt:revoked:";
  const poisonHash = shardOf("sub:poison");
  assert.notEqual(shardOf("sub:carol"), poisonHash);
  const writable = [...Array(16).keys()].filter((n) => n !== poisonHash).map((n) => `~${prefix}all:${n}`);
  await run("redis-cli", [
    "-p", port, "ACL", "SETUSER", "app", "on", ">app-password", "+@all", "&*", "%R~*",
    // (EVAL needs read and write on its keys from one pattern: `~`, not `%W~`.)
    ...writable, `~${prefix}log`, `~${prefix}woken`,
  ]);
  const url = `redis://app:app-password@127.0.0.1:${port}/?protocol=resp3`;
  // POISON_LOG=info prints A's log after the test.
  const logs = [];
  const env = { RUST_LOG: process.env.POISON_LOG ?? "warn" };
  const [a, b] = await Promise.all([startDemo(["--redis", url], { output: logs, env }), startDemo(["--redis", url])]);
  cleanup.push(async () => {
    if (process.env.POISON_LOG) console.log(logs.join("\n"));
  });
  cleanup.push(() => a.stop(), () => b.stop());

  // carol is connected to B.
  const carol = io(b.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  cleanup.push(async () => carol.close());
  await nextEvent(carol, "connect");
  const authenticated = nextEvent(carol, "authenticated");
  carol.emit("authenticate", { token: testToken("carol") });
  await authenticated;

  // On A: "poison" first (Redis refuses it: queued, tried, set aside), then carol.
  const poisoned = await adminRevoke(a.url, { sub: "poison" });
  assert.ok([202, 503].includes(poisoned.status), `poison: HTTP ${poisoned.status}`);
  const kicked = nextEvent(carol, "unauthorized", 15_000);
  const revoked = await adminRevoke(a.url, { sub: "carol" });
  assert.ok([200, 202].includes(revoked.status), `carol: HTTP ${revoked.status}`);
  assert.equal((await kicked).data.code, "revoked", "carol's revocation reached B");
});
