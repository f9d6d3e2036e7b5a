// Three chat-demo processes on a Redis that managed services look like: TLS only (no plain
// port), client certificates required, an ACL user with only the permissions the library needs,
// the default user off. Broadcasts, revocations and the per-user cap cross the processes; a
// wrong password, a missing certificate or the wrong scheme stop the demo with a message that
// says what to fix.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { adminRevoke, authenticatedSocket, login, nextEvent, refusalCode, startDemo, startRedis, testToken, until } from "./demo-server.mjs";

const WAIT = 10_000;
const CAP = 2;
/**
 * What the library needs: its keys and channels, socket.io's channels, pub/sub, scripts (the
 * per-user cap's script reads TIME). docs/OPERATING.md quotes it.
 */
const ACL = "~socketioxide-jwt:* &socketioxide-jwt:* &socket.io* +@pubsub +@read +@write +@scripting +@connection +time";
const USER = { name: "chat", password: "chat-password", rules: ACL };
let redis;
let nodes;
const sockets = [];

before(async () => {
  redis = await startRedis({ tls: true, user: USER });
  const args = [...redis.demoArgs(), "--max-sockets-per-user", String(CAP)];
  nodes = await Promise.all([0, 1, 2].map(() => startDemo(args)));
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all((nodes ?? []).map((n) => n.stop()));
  await redis?.cleanup();
});

const authenticated = (url, token) => authenticatedSocket(url, token, sockets, WAIT);

test("over TLS with an ACL user: a broadcast reaches every process", async () => {
  const [A, B, C] = nodes;
  const alice = await authenticated(A.url, testToken("alice"));
  const bob = await authenticated(B.url, testToken("bob"));
  const carol = await authenticated(C.url, testToken("carol"));
  const heard = [bob, carol].map((s) => nextEvent(s, "chat message", WAIT));
  alice.emit("chat message", { text: "over tls" });
  for (const msg of await Promise.all(heard)) assert.deepEqual(msg, { from: "alice", text: "over tls" });
});

test("over TLS with an ACL user: a revocation made on one process refuses the socket on another", async () => {
  const [A, , C] = nodes;
  const victim = await authenticated(C.url, testToken("victor"));
  const admin = await login(A.url, "admin", "admin-password");
  const answer = await adminRevoke(A.url, { sub: "victor" }, admin);
  assert.equal(answer.status, 200, "stored in Redis, not queued");
  await until(
    () => victim.received.some((m) => m.event === "unauthorized" && m.args[0].code === "revoked"),
    "the revoked socket on C",
  );
});

test(`over TLS with an ACL user: a user holds at most ${CAP} sockets across the processes`, async () => {
  const [A, B, C] = nodes;
  const token = testToken("frank");
  await authenticated(A.url, token);
  await authenticated(B.url, token);
  assert.equal(await refusalCode(C.url, token, sockets, "a third socket must be refused"), "forbidden");
});

/** Starts the demo with `args`, expects it to exit, and returns what it printed. */
async function refusedStart(args) {
  const output = [];
  const started = await startDemo(args, { output }).then(
    (demo) => demo,
    () => null,
  );
  if (started) {
    await started.stop();
    assert.fail(`the demo started with ${args.join(" ")}`);
  }
  return output.join("\n");
}

test("a wrong password, a missing client certificate, the wrong scheme: the demo says what to fix", async () => {
  const port = redis.port;
  const [, , caFlag, ca, certFlag, cert, keyFlag, key] = redis.demoArgs();
  const tls = [caFlag, ca, certFlag, cert, keyFlag, key];

  const wrongPassword = await refusedStart(["--redis", `rediss://chat:nope@127.0.0.1:${port}/`, ...tls]);
  assert.match(wrongPassword, /refused the user or password/);
  assert.doesNotMatch(wrongPassword, /nope/, "the password is never printed");

  const noClientCert = await refusedStart(["--redis", redis.url, caFlag, ca]);
  assert.match(noClientCert, /TLS handshake|client certificate|--redis-cert/);

  const plain = await refusedStart(["--redis", `redis://chat:chat-password@127.0.0.1:${port}/`]);
  assert.match(plain, /rediss:\/\//);
  assert.doesNotMatch(plain, /chat-password/);

  const certsWithoutTls = await refusedStart(["--redis", `redis://127.0.0.1:${port}/`, ...tls]);
  assert.match(certsWithoutTls, /use rediss:\/\/ for TLS/);
});
