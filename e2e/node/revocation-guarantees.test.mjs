// A revocation, once accepted, reaches every instance (issue 33), against real redis-server
// processes and chat-demo instances:
// - a Redis Cluster moving the hash slot of the revocation log, and of the adapter's broadcast
//   channels, mid-run (the steps `redis-cli --cluster reshard` takes): revocations before and
//   after reach every instance, broadcasts resume;
// - a user revoked on A during an outage, her token refreshed on B meanwhile: once Redis is
//   back, the refreshed token is refused everywhere, on a new instance too;
// - a Sentinel failover (the master SIGKILLed) while revocations are being written on one
//   instance: every revocation its admin was told about (200, 202 or 503) reaches the other
//   instance and one started after the failover.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";

import { adminRevoke, authenticatedSocket, chatTexts as texts, login, redisCli, refusalCode, revokedOn, startCluster, startDemo, startRedis, startSentinels, testToken, until } from "./demo-server.mjs";

const WAIT = 10_000;
const sockets = [];
const cleanups = [];
after(async () => {
  for (const s of sockets) s.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const authenticated = (url, token) => authenticatedSocket(url, token, sockets, WAIT);

/** The masters of a cluster, from `CLUSTER NODES`: `{ id, port, slots: [[from, to], ...] }`. */
async function masters(anyPort) {
  const lines = (await redisCli(anyPort, "CLUSTER", "NODES")).split("\n");
  return lines
    .map((line) => line.split(" "))
    .filter((f) => f[2]?.split(",").includes("master") && !f[2].includes("fail"))
    .map((f) => ({
      id: f[0],
      port: Number(f[1].split(":")[1].split("@")[0]),
      slots: f.slice(8).filter((s) => /^\d/.test(s)).map((s) => s.split("-").map(Number)).map(([a, b]) => [a, b ?? a]),
    }));
}

/** Moves hash slot `slot` to another master, as `redis-cli --cluster reshard` does. */
async function moveSlot(anyPort, slot) {
  const all = await masters(anyPort);
  const from = all.find((m) => m.slots.some(([a, b]) => a <= slot && slot <= b));
  const to = all.find((m) => m !== from);
  assert.ok(from && to, `slot ${slot} has an owner and there is another master`);
  await redisCli(to.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id);
  await redisCli(from.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id);
  for (;;) {
    const keys = (await redisCli(from.port, "CLUSTER", "GETKEYSINSLOT", String(slot), "1000")).split("\n").filter(Boolean);
    if (keys.length === 0) break;
    const out = await redisCli(from.port, "MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", "KEYS", ...keys);
    assert.match(out, /OK/, `MIGRATE of slot ${slot}: ${out}`);
  }
  for (const m of [to, from, ...all.filter((m) => m !== to && m !== from)]) {
    await redisCli(m.port, "CLUSTER", "SETSLOT", String(slot), "NODE", to.id);
  }
  return { from: from.port, to: to.port };
}

test("a Cluster reshard of the revocation log's slot and the broadcast channels' slots loses nothing", async () => {
  const cluster = await startCluster({ masters: 3 });
  cleanups.push(() => cluster.cleanup());
  const nodes = await Promise.all([0, 1, 2].map(() => startDemo(cluster.demoArgs())));
  cleanups.push(() => Promise.all(nodes.map((n) => n.stop())));
  const [A, B, C] = nodes;
  const admin = await login(A.url, "admin", "admin-password");
  const port = cluster.ports[0];

  // Before: a revocation made on B reaches C.
  const before = await authenticated(C.url, testToken("victor-before"));
  assert.equal((await adminRevoke(B.url, { sub: "victor-before" }, admin)).status, 200);
  await until(() => revokedOn(before), "the revocation before the reshard to reach C");

  // Move the log's slot, and every slot of the adapter's sharded channels.
  const logSlot = Number(await redisCli(port, "CLUSTER", "KEYSLOT", "{socketioxide-jwt:revoked:}"));
  const channels = (await Promise.all(cluster.ports.map((p) => redisCli(p, "PUBSUB", "SHARDCHANNELS"))))
    .flatMap((out) => out.split("\n"))
    .filter((c) => c.startsWith("socket.io"));
  assert.ok(channels.length > 0, "the adapter's channels are sharded");
  const slots = new Set([logSlot]);
  for (const channel of channels) slots.add(Number(await redisCli(port, "CLUSTER", "KEYSLOT", channel)));
  // During: a revocation made while the slots move (it may be retried, never lost).
  const during = await authenticated(C.url, testToken("victor-during"));
  const revokingDuring = adminRevoke(A.url, { sub: "victor-during" }, admin);
  const moved = performance.now();
  for (const slot of slots) await moveSlot(port, slot);
  assert.ok([200, 202].includes((await revokingDuring).status));

  // After: a revocation made on A reaches C (REST on B refuses the token too), and the one
  // made during the move arrived.
  const afterToken = testToken("victor-after");
  const afterSocket = await authenticated(C.url, afterToken);
  assert.equal((await adminRevoke(A.url, { sub: "victor-after" }, admin)).status, 200);
  const revoked = performance.now();
  await until(() => revokedOn(afterSocket), "the revocation after the reshard to reach C");
  const revocationMs = performance.now() - revoked;
  await until(() => revokedOn(during), "the revocation made during the reshard to reach C");
  await until(
    async () => (await fetch(`${B.url}/api/me`, { headers: { authorization: `Bearer ${afterToken}` } })).status === 401,
    "B to refuse the revoked token on REST",
  );
  assert.equal(await refusalCode(B.url, afterToken, sockets), "revoked", "B refuses it on a new socket");

  // Broadcasts cross instances again, every way.
  const [alice, bob, carol] = await Promise.all([
    authenticated(A.url, testToken("alice")),
    authenticated(B.url, testToken("bob")),
    authenticated(C.url, testToken("carol")),
  ]);
  let n = 0;
  await until(async () => {
    n += 1;
    alice.emit("chat message", { text: `from A ${n}` });
    bob.emit("chat message", { text: `from B ${n}` });
    carol.emit("chat message", { text: `from C ${n}` });
    await new Promise((r) => setTimeout(r, 100));
    return [[alice, ["B", "C"]], [bob, ["A", "C"]], [carol, ["A", "B"]]].every(([s, from]) =>
      from.every((f) => texts(s).some((t) => t.startsWith(`from ${f}`))),
    );
  }, "broadcasts between every pair of instances after the reshard", 15_000);
  const broadcastMs = performance.now() - moved;
  console.log(
    `reshard of ${slots.size} slots: a revocation after it reached C in ${revocationMs.toFixed(0)} ms; ` +
      `broadcasts crossed every instance ${broadcastMs.toFixed(0)} ms after the move began`,
  );
});

test("a user revoked during an outage: her token refreshed on another instance meanwhile is refused once Redis is back", async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.cleanup());
  const [A, B] = await Promise.all([startDemo(redis.demoArgs()), startDemo(redis.demoArgs())]);
  cleanups.push(() => Promise.all([A.stop(), B.stop()]));
  const admin = await login(A.url, "admin", "admin-password");
  const first = await login(B.url, "alice", "wonderland");

  await redis.stop();
  assert.equal((await adminRevoke(A.url, { sub: "alice" }, admin)).status, 202, "queued: Redis is down");
  // B has not heard: it refreshes alice's token (same login session, a new iat).
  await new Promise((r) => setTimeout(r, 1100)); // a new iat: one second later
  const res = await fetch(`${B.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${first}` } });
  assert.equal(res.status, 200, "B does not know of the revocation yet");
  const refreshed = (await res.json()).token;
  await redis.start();

  // Once Redis is back, the refreshed token is refused on both, and on a new instance.
  await until(async () => {
    const me = await fetch(`${B.url}/api/me`, { headers: { authorization: `Bearer ${refreshed}` } });
    return me.status === 401;
  }, "B to refuse the refreshed token", 15_000);
  for (const node of [A, B]) {
    assert.equal(await refusalCode(node.url, refreshed, sockets), "revoked");
    const again = await fetch(`${node.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${refreshed}` } });
    assert.equal(again.status, 401, "nor can it be refreshed again");
  }
  const C = await startDemo(redis.demoArgs());
  cleanups.push(() => C.stop());
  assert.equal(await refusalCode(C.url, refreshed, sockets), "revoked", "a new instance refuses it");
  // A new login after the revocation works.
  const fresh = await login(C.url, "alice", "wonderland");
  await authenticated(A.url, fresh);
});

test("a Sentinel failover while revocations are written: every one reaches every instance", async () => {
  const redis = await startSentinels();
  cleanups.push(() => redis.cleanup());
  const [A, B] = await Promise.all([startDemo(redis.demoArgs()), startDemo(redis.demoArgs())]);
  cleanups.push(() => Promise.all([A.stop(), B.stop()]));
  const admin = await login(A.url, "admin", "admin-password");

  // Revoke a user every 25 ms on A, from before the kill until well after the promotion.
  const answers = [];
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const res = await adminRevoke(A.url, { sub: `failover-${i}` }, admin);
      answers.push({ sub: `failover-${i}`, status: res.status, at: performance.now() });
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  await until(() => answers.length >= 10, "revocations before the failover");
  const killed = performance.now();
  await redis.killMaster();
  await until(async () => (await redis.currentMasterPort()) === redis.replicaPort, "the replica to be promoted", 30_000);
  await until(() => answers.some((a) => a.at > performance.now() - 100 && a.status === 200), "revocations stored again", 30_000);
  const storedAgainMs = performance.now() - killed;
  await new Promise((r) => setTimeout(r, 300));
  writing = false;
  await writer;

  const byStatus = {};
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  const told = answers.filter((a) => [200, 202, 503].includes(a.status));
  assert.equal(told.length, answers.length, `every answer is 200, 202 or 503: ${JSON.stringify(byStatus)}`);
  // Each revoked user's token (issued before the revocation) is refused on B, and on an instance
  // started after the failover.
  const C = await startDemo(redis.demoArgs());
  cleanups.push(() => C.stop());
  const iat = Math.floor(Date.now() / 1000) - 120;
  const refusedOn = async (node) => {
    const statuses = await Promise.all(
      told.map(async (a) => (await fetch(`${node.url}/api/me`, { headers: { authorization: `Bearer ${testToken(a.sub, { iat })}` } })).status),
    );
    return statuses.filter((s) => s === 401).length;
  };
  const started = performance.now();
  await until(async () => (await refusedOn(B)) === told.length, "B to refuse every revoked user", 30_000);
  const everywhereMs = performance.now() - started;
  assert.equal(await refusedOn(C), told.length, "an instance started after the failover knows every one");
  console.log(
    `Sentinel failover while writing: ${answers.length} revocations (${JSON.stringify(byStatus)}); ` +
      `stored again ${storedAgainMs.toFixed(0)} ms after the kill; all on B ${everywhereMs.toFixed(0)} ms after the writes stopped; ` +
      `all on an instance started after the failover`,
  );
});
