// The helper against protocol/scenarios.json: the table the server's and the Rust client's
// tests read too. Rules are checked as functions; scenarios are played on a fake socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { AuthSocket, busyBackoffMs, isRecoverable, refreshDelayMs, refusalFrom } from "../dist/index.js";
import { fakeIo, flush } from "./fake-io.mjs";

const table = JSON.parse(readFileSync(new URL("../../../protocol/scenarios.json", import.meta.url), "utf8"));
/** The true time of the scenarios, in seconds since the epoch. */
const TRUE_NOW = 1_800_000_000;

test("refresh delays follow the table", () => {
  for (const c of table.refresh_delay) {
    const info = {
      exp: c.exp_in_s === null ? undefined : TRUE_NOW + c.exp_in_s,
      expires_in_ms: c.expires_in_ms ?? undefined,
    };
    const localNowMs = (TRUE_NOW + c.clock_skew_s) * 1000;
    assert.equal(refreshDelayMs(info, c.margin_ms, localNowMs), c.delay_ms, c.name);
  }
});

test("busy backoffs follow the table", () => {
  for (const c of table.busy_backoff) {
    assert.equal(busyBackoffMs(c.attempt, c.jitter), c.delay_ms, `attempt ${c.attempt} jitter ${c.jitter}`);
  }
});

test("refusals follow the table", () => {
  for (const c of table.refusals) {
    const err = refusalFrom(c.payload);
    assert.equal(err.code, c.code, c.name);
    assert.equal(isRecoverable(err.code), c.recoverable, c.name);
  }
});

/** The helper's states, in the table's words. */
const STATE = { idle: "closed", connecting: "connecting", authenticating: "connecting", authenticated: "authenticated", waiting: "waiting", unauthorized: "refused" };

for (const scenario of table.scenarios) {
  test(`scenario: ${scenario.name}`, async (t) => {
    // The local clock, wrong by the scenario's skew.
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: (TRUE_NOW + (scenario.clock_skew_s ?? 0)) * 1000 });
    // The jitter the Rust client's table run uses too.
    t.mock.method(Math, "random", () => 0.5);
    const { io, created } = fakeIo();
    const requests = [];
    const sent = [];
    let next = 0;
    const auth = new AuthSocket({
      url: "http://server/",
      io,
      mode: scenario.mode,
      refreshMarginMs: scenario.margin_ms ?? 60_000,
      getToken: ({ reason }) => {
        requests.push(reason);
        const token = scenario.tokens[Math.min(next, scenario.tokens.length - 1)];
        next += 1;
        // "!...": the source fails.
        if (token.startsWith("!")) throw new Error(token.slice(1));
        return token;
      },
    });
    auth.connect();
    const socket = created[0];
    // Every token that goes out, in order: `authenticate` events and handshakes.
    const record = (event, args) => {
      if (event === "authenticate") sent.push(args[0].token);
    };
    const { emit, emitWithAck } = socket;
    socket.emit = (event, ...args) => (record(event, args), emit.call(socket, event, ...args));
    socket.emitWithAck = (event, ...args) => (record(event, args), emitWithAck.call(socket, event, ...args));
    // socket.io-client runs the handshake's `auth` once per attempt, before the server answers.
    let drops = 0;
    let authedAttempt = null;
    const opened = () => created.length + socket.connectCalls;
    const handshake = async () => {
      const attempt = `${opened()}/${drops}`;
      if (scenario.mode !== "handshake" || authedAttempt === attempt) return;
      authedAttempt = attempt;
      const payload = await socket.handshakeAuth();
      if (payload?.token) sent.push(payload.token);
    };

    for (const [i, step] of scenario.steps.entries()) {
      const what = `${scenario.name} (step ${i})`;
      switch (step.do) {
        case "connected":
          await handshake();
          socket.serverConnect();
          break;
        case "dropped":
          socket.serverDrop("transport close");
          drops += 1;
          break;
        case "authenticated":
          socket.fire("authenticated", step.payload);
          break;
        case "unauthorized":
          socket.fire("unauthorized", step.payload);
          break;
        case "connect_error":
          await handshake();
          // As socket.io-client gives a server's refusal: an Error with a `data` property.
          socket.fire("connect_error", Object.assign(new Error(step.message ?? step.code), { data: step.data }));
          break;
        case "transport_error":
          // As socket.io-client gives a connection it could not open: no `data`.
          socket.fire("connect_error", Object.assign(new Error("xhr poll error"), { type: "TransportError" }));
          break;
        case "server_closed":
          socket.serverDrop("io server disconnect");
          drops += 1;
          break;
        case "refresh":
          auth.refresh().catch(() => {});
          break;
        case "token_expiring":
          socket.fire("token_expiring", step.payload);
          break;
        case "advance":
          t.mock.timers.tick(step.ms);
          break;
        case undefined:
          break;
        default:
          assert.fail(`${what}: unknown action ${step.do}`);
      }
      await flush();
      await flush();
      const expect = step.expect;
      if (!expect) continue;
      if (expect.state) assert.equal(STATE[auth.state], expect.state, `${what}: state`);
      if (expect.refusal) assert.equal(auth.lastError?.code, expect.refusal, `${what}: refusal`);
      if (expect.requests) assert.deepEqual(requests, expect.requests, `${what}: token requests`);
      if (expect.sent) assert.deepEqual(sent, expect.sent, `${what}: tokens sent`);
      if (expect.opened) assert.equal(opened(), expect.opened, `${what}: connections opened`);
    }
    auth.disconnect();
  });
}
