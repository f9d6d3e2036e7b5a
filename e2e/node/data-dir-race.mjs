// Instances sharing one data directory start together every time: 2 to 5 chat-demo processes
// started at the same moment on a fresh directory, `--rounds N` times (default 50; CI runs 10).
// Each must come up (print its URL); one that exits (e.g. "database is locked") fails the run.
//
//     node e2e/node/data-dir-race.mjs --rounds 50
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { startDemo } from "./demo-server.mjs";

const flag = process.argv.indexOf("--rounds");
const rounds = flag > 0 ? Number(process.argv[flag + 1]) : 50;
const started = Date.now();
for (let round = 0; round < rounds; round++) {
  const instances = 2 + (round % 4);
  const dataDir = await mkdtemp(join(tmpdir(), "data-dir-race-"));
  // Every other round without --secret: they must also agree on the one they generate.
  const secret = round % 2 === 0 ? undefined : null;
  const outputs = Array.from({ length: instances }, () => []);
  const results = await Promise.allSettled(
    outputs.map((output) => startDemo([], { dataDir, output, ...(secret === null ? { secret: null } : {}) })),
  );
  const up = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
  await Promise.all(up.map((demo) => demo.stop()));
  await rm(dataDir, { recursive: true, force: true });
  const failed = results.findIndex((r) => r.status === "rejected");
  if (failed >= 0) {
    console.error(`round ${round + 1}: ${instances} instances, one did not start:\n${results[failed].reason.message}\n${outputs[failed].join("\n")}`);
    process.exit(1);
  }
}
console.log(`${rounds} rounds of 2-5 instances on a fresh data directory: every instance started (${((Date.now() - started) / 1000).toFixed(1)} s)`);
