// A Redis Cluster of three masters; three chat-demo processes reach it through --redis-cluster.
// Broadcasts cross instances over sharded pub/sub (SPUBLISH: no classic channel is used), a
// revocation made on one instance reaches the others and is stored under its hash tag (its control
// log too), and the per-user cap counts across instances.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { adminRevoke, authenticatedSocket, chatTexts as texts, jtiAndExp, login, redisCli, storedIn, refusalCode, revokedOn, startCluster, startDemo, testToken, until, untilHeard } from "./demo-server.mjs";

const WAIT = 10_000;
const CAP = 2;
let redis;
let nodes = [];
const sockets = [];

before(async () => {
  redis = await startCluster({ masters: 3 });
  const args = [...redis.demoArgs(), "--max-sockets-per-user", String(CAP)];
  nodes = await Promise.all([0, 1, 2].map(() => startDemo(args)));
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis?.cleanup();
});

const authenticated = (url, token) => authenticatedSocket(url, token, sockets, WAIT);
/** Every node's answer to `PUBSUB <kind>`, one channel name per line. */
const channels = async (kind) =>
  (await Promise.all(redis.ports.map((p) => redisCli(p, "PUBSUB", kind)))).flatMap((out) => out.split("\n").filter(Boolean));

test("on a three-master Cluster: broadcasts, revocations and the cap across three instances", async () => {
  const [A, B, C] = nodes;
  const admin = await login(A.url, "admin", "admin-password");
  const alice = await authenticated(A.url, testToken("alice"));
  const bob = await authenticated(B.url, testToken("bob"));
  const carol = await authenticated(C.url, testToken("carol"));

  // Broadcasts: from each instance to the two others.
  alice.emit("chat message", { text: "from A" });
  bob.emit("chat message", { text: "from B" });
  carol.emit("chat message", { text: "from C" });
  for (const [socket, name] of [[alice, "alice"], [bob, "bob"], [carol, "carol"]]) {
    await until(
      () => ["from A", "from B", "from C"].every((t) => texts(socket).includes(t)),
      `every instance's broadcast to reach ${name}`,
    );
  }
  const sharded = await channels("SHARDCHANNELS");
  assert.ok(sharded.some((c) => c.startsWith("socket.io")), `the adapter's channels are sharded: ${sharded}`);
  assert.deepEqual(await channels("CHANNELS"), [], "no classic pub/sub channel");

  // A revocation made on B reaches a socket on C, and is stored under the hash tag.
  const victim = await authenticated(C.url, testToken("victor"));
  assert.equal((await adminRevoke(B.url, { sub: "victor" }, admin)).status, 200);
  await until(() => revokedOn(victim), "the revocation to reach C");
  const jti = `early-${randomUUID()}`;
  const early = testToken("alice", { jti });
  assert.equal((await adminRevoke(A.url, jtiAndExp(early), admin)).status, 200);
  assert.equal(await redis.cli("HEXISTS", storedIn(`jti:${jti}`, "{socketioxide-jwt:revoked:}"), `jti:${jti}`), "1", "the revocation is stored under its hash tag");
  assert.equal(await redis.cli("TYPE", "{socketioxide-jwt:revoked:}log"), "stream", "the control log shares the keys' hash tag");

  // A new instance loads the stored revocations (the snapshot scans the right shard).
  const D = await startDemo([...redis.demoArgs(), "--max-sockets-per-user", String(CAP)]);
  nodes.push(D);
  const refused = await refusalCode(D.url, early, sockets, "a token revoked before this instance started must be refused");
  assert.equal(refused, "revoked");

  // The cap counts across instances.
  const frank = testToken("frank");
  await authenticated(A.url, frank);
  await authenticated(B.url, frank);
  assert.equal(await refusalCode(C.url, frank, sockets, "a third socket must be refused"), "forbidden");
  assert.equal(await redis.cli("ZCARD", "{socketioxide-jwt:user-sockets:}frank"), "2", "frank's places, under their hash tag");
});

test("a Cluster master SIGKILLed: its replica takes over, broadcasts and revocations resume", async () => {
  const cluster = await startCluster({ masters: 3, replicas: 1 });
  const demos = [];
  try {
    const args = cluster.demoArgs();
    demos.push(...(await Promise.all([0, 1].map(() => startDemo(args)))));
    const [A, B] = demos;
    const admin = await login(A.url, "admin", "admin-password");
    const alice = await authenticated(A.url, testToken("alice"));
    const bob = await authenticated(B.url, testToken("bob"));
    alice.emit("chat message", { text: "before" });
    await until(() => texts(bob).includes("before"), "a broadcast across instances");

    // The shard that carries the broadcasts of the default namespace loses its master.
    const shardChannels = (await Promise.all(cluster.ports.map((p) => redisCli(p, "PUBSUB", "SHARDCHANNELS"))))
      .flatMap((out) => out.split("\n").filter(Boolean));
    const channel = shardChannels.find((c) => c === "socket.io-request#/#");
    assert.ok(channel, `a sharded broadcast channel: ${shardChannels}`);
    const victimPort = await cluster.masterOfChannel(channel);
    assert.ok(victimPort, `the master serving ${channel}`);

    const killed = performance.now();
    await cluster.kill(victimPort);
    await untilHeard(alice, bob, "probe", "broadcasts across instances after the failover", 30_000);
    const recoveredMs = performance.now() - killed;
    assert.ok(await cluster.okWithout(victimPort), "the cluster is whole again without the killed master");

    const victim = await authenticated(A.url, testToken("victor"));
    await until(async () => (await adminRevoke(B.url, { sub: "victor" }, admin)).status === 200, "a revocation stored after the failover", 20_000);
    await until(() => revokedOn(victim), "the revocation to reach A");
    console.log(`Cluster failover: cross-instance broadcasts again ${Math.round(recoveredMs)} ms after the master was killed`);
  } finally {
    await Promise.all(demos.map((d) => d.stop()));
    await cluster.cleanup();
  }
});
