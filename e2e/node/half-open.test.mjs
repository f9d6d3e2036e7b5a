// A half-open Redis link: a TCP proxy between one instance and Redis stops forwarding for
// 10 s without closing anything (what a dropped network path looks like: no FIN, no RST). The
// instance behind it must notice within its heartbeat bound, keep serving its own sockets, and
// recover once the path heals, without delivering any message twice.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect } from "node:net";

import { adminRevoke, authenticatedSocket, chatTexts as texts, login, startDemo, startRedis, testToken, until, untilHeard } from "./demo-server.mjs";

const WAIT = 10_000;
const BLACKHOLE_MS = Number(process.env.BLACKHOLE_SECS ?? 10) * 1000;
let redis;
let proxy;
let viaProxy; // the instance whose Redis link goes half-open
let direct;
const output = [];
const sockets = [];

/** Forwards TCP to `port`; `blackhole(true)` stops forwarding both ways, closing nothing. */
function startProxy(port) {
  const pairs = new Set();
  let holed = false;
  const server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    const pipe = (from, to) =>
      from.on("data", (chunk) => {
        // In the hole, bytes are lost (as on a dead path): the stream they belonged to is
        // unusable afterwards, which is why the driver must replace the connection.
        if (!holed) to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        blackhole: (on) => (holed = on),
        close: () => {
          for (const { client, upstream } of pairs) {
            client.destroy();
            upstream.destroy();
          }
          server.close();
        },
      }),
    ),
  );
}

before(async () => {
  redis = await startRedis();
  proxy = await startProxy(Number(new URL(redis.url).port));
  viaProxy = await startDemo(["--redis", `redis://127.0.0.1:${proxy.port}/`], { output });
  direct = await startDemo(redis.demoArgs());
});
after(async () => {
  for (const s of sockets) s.close();
  await Promise.all([viaProxy?.stop(), direct?.stop()]);
  proxy?.close();
  await redis?.cleanup();
});

const authenticated = (url, token) => authenticatedSocket(url, token, sockets, WAIT);

test("a half-open Redis link is found within the heartbeat bound and recovered from, without double delivery", async () => {
  const alice = await authenticated(viaProxy.url, testToken("alice"));
  const bob = await authenticated(direct.url, testToken("bob"));
  bob.emit("chat message", { text: "before" });
  await until(() => texts(alice).includes("before"), "a broadcast across instances before the hole");

  const holed = performance.now();
  proxy.blackhole(true);
  await until(() => output.some((l) => /did not answer the heartbeat|Redis unreachable/.test(l)), "the heartbeat to notice", 5_000);
  const detectedMs = performance.now() - holed;
  // Its own sockets are still served at once: a broadcast from alice reaches alice.
  alice.emit("chat message", { text: "local during the hole" });
  await until(() => texts(alice).includes("local during the hole"), "local delivery during the hole", 2_000);
  for (let i = 0; i < 3; i++) bob.emit("chat message", { text: `during-${i}` });

  await new Promise((r) => setTimeout(r, Math.max(0, BLACKHOLE_MS - (performance.now() - holed))));
  proxy.blackhole(false);
  const healed = performance.now();
  await untilHeard(bob, alice, "probe", "broadcasts across instances again", 20_000);
  const recoveredMs = performance.now() - healed;

  // A revocation made on the other instance reaches the recovered one.
  const victim = await authenticated(viaProxy.url, testToken("victor"));
  const admin = await login(direct.url, "admin", "admin-password");
  assert.equal((await adminRevoke(direct.url, { sub: "victor" }, admin)).status, 200);
  await until(() => victim.received.some((m) => m.event === "unauthorized" && m.args[0].code === "revoked"), "the revocation to reach it");

  // Exactly once from here, at most once for what was sent during the hole.
  for (let i = 0; i < 5; i++) bob.emit("chat message", { text: `after-${i}` });
  await until(() => texts(alice).includes("after-4"), "the messages after recovery");
  const counts = new Map();
  for (const t of texts(alice)) counts.set(t, (counts.get(t) ?? 0) + 1);
  for (const [text, count] of counts) assert.equal(count, 1, `"${text}" delivered ${count} times`);
  for (let i = 0; i < 5; i++) assert.equal(counts.get(`after-${i}`), 1);

  console.log(`half-open link: detected in ${Math.round(detectedMs)} ms, cross-instance broadcasts again ${Math.round(recoveredMs)} ms after the path healed (hole ${BLACKHOLE_MS} ms)`);
  assert.ok(detectedMs < 3_500, `detected in ${detectedMs} ms`);
  assert.ok(recoveredMs < 10_000, `recovered in ${recoveredMs} ms`);
});
