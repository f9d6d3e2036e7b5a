// Redis behind Sentinel: a master, a replica, three Sentinels; two chat-demo processes find the
// master through the Sentinels. The master is SIGKILLed mid-run: the Sentinels promote the
// replica, and broadcasts, revocations and the per-user cap resume on it. A revocation made
// (and replicated) before the failover is still there after it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { adminRevoke, authenticatedSocket, chatTexts as texts, jtiAndExp, login, redisCli, storedIn, refusalCode, revokedOn, startDemo, startSentinels, testToken, until, untilHeard } from "./demo-server.mjs";

const WAIT = 10_000;
const CAP = 2;
let redis;
let nodes = [];
const sockets = [];

before(async () => {
  redis = await startSentinels();
  const args = [...redis.demoArgs(), "--max-sockets-per-user", String(CAP)];
  nodes = await Promise.all([0, 1].map(() => startDemo(args)));
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis?.cleanup();
});

const authenticated = (url, token) => authenticatedSocket(url, token, sockets, WAIT);

test("through Sentinel: broadcasts, revocations and the cap, then the same after the master is killed", async () => {
  const [A, B] = nodes;
  const admin = await login(A.url, "admin", "admin-password");
  const alice = await authenticated(A.url, testToken("alice"));
  const bob = await authenticated(B.url, testToken("bob"));
  alice.emit("chat message", { text: "before" });
  await until(() => texts(bob).includes("before"), "a broadcast across instances");

  // Before the failover: a revocation, replicated to the replica before the master dies.
  const early = `early-${randomUUID()}`;
  const earlyToken = testToken("alice", { jti: early });
  assert.equal((await adminRevoke(A.url, jtiAndExp(earlyToken), admin)).status, 200);
  await until(
    async () => (await redisCli(redis.replicaPort, "HEXISTS", storedIn(`jti:${early}`), `jti:${early}`)) === "1",
    "the revocation on the replica",
  );

  const killed = performance.now();
  await redis.killMaster();
  await untilHeard(alice, bob, "probe", "broadcasts across instances on the new master", 30_000);
  const recoveredMs = performance.now() - killed;
  assert.equal(await redis.currentMasterPort(), redis.replicaPort, "the replica was promoted");

  // Revocations flow again: made on B, they reach A.
  const victim = await authenticated(A.url, testToken("victor"));
  await until(async () => (await adminRevoke(B.url, { sub: "victor" }, admin)).status === 200, "a revocation stored on the new master", 20_000);
  await until(() => revokedOn(victim), "the revocation to reach A");

  // The revocation made before the failover is on the new master: a new instance refuses it.
  const C = await startDemo([...redis.demoArgs(), "--max-sockets-per-user", String(CAP)]);
  nodes.push(C);
  const refused = await refusalCode(C.url, earlyToken, sockets, "a token revoked before the failover must be refused");
  assert.equal(refused, "revoked");

  // The cap counts across instances again.
  const frank = testToken("frank");
  await authenticated(A.url, frank);
  await authenticated(B.url, frank);
  assert.equal(await refusalCode(C.url, frank, sockets, "a third socket must be refused"), "forbidden");

  console.log(`Sentinel failover: cross-instance broadcasts again ${Math.round(recoveredMs)} ms after the master was killed`);
});

test("Sentinels and data nodes over TLS only, client certificates required: found, followed, shared", async () => {
  const secure = await startSentinels({ master: "securemaster", tls: true });
  const demos = [];
  try {
    demos.push(...(await Promise.all([0, 1].map(() => startDemo(secure.demoArgs())))));
    const [A, B] = demos;
    const admin = await login(A.url, "admin", "admin-password");
    const alice = await authenticated(A.url, testToken("alice"));
    const bob = await authenticated(B.url, testToken("bob"));
    alice.emit("chat message", { text: "over tls" });
    await until(() => texts(bob).includes("over tls"), "a broadcast across instances through TLS Sentinels");
    const jti = `tls-${randomUUID()}`;
    assert.equal((await adminRevoke(B.url, jtiAndExp(testToken("alice", { jti })), admin)).status, 200);
    assert.equal(await secure.cli(secure.masterPort, "HEXISTS", storedIn(`jti:${jti}`), `jti:${jti}`), "1", "stored on the TLS master");

    // Followed through a failover, over TLS too.
    await secure.killMaster();
    await untilHeard(alice, bob, "tls-probe", "broadcasts across instances on the promoted replica", 30_000);
    assert.equal(await secure.currentMasterPort(), secure.replicaPort, "the replica was promoted");
  } finally {
    await Promise.all(demos.map((d) => d.stop()));
    await secure.cleanup();
  }
});
