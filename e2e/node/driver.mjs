// Drives the stock socket.io-client for the Rust end-to-end tests.
//
// Reads one JSON command per line on stdin, writes one JSON observation per line on stdout.
// Commands:
//   {"op":"connect","id":"a","url":"http://127.0.0.1:1234/","opts":{...}}
//   {"op":"connect_many","prefix":"s","count":300,"url":"...","opts":{...}}
//   {"op":"emit","id":"a","event":"authenticate","args":[{"token":"..."}],"ack":"a1"}
//   {"op":"drop_transport","id":"a"}     (simulates a network failure: the client reconnects)
//   {"op":"close","id":"a"}
//   {"op":"ping","seq":1}                (answered with {"kind":"pong","seq":1})
//   {"op":"cycle","prefix":"g","count":50,"url":"...","token":"...","expect":"authenticated"}
//       each socket connects, authenticates (unless token is null), asks whoami when
//       authenticated, then closes; one {"id","kind":"cycle_done","outcome"} line per socket,
//       outcome being "served", or the code it was refused with.
// Observations: connect (with sid), connect_error (message, data), disconnect (reason),
// event (event, args), ack (ack, args), pong, error.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const sockets = new Map();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function open(id, url, opts) {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...opts,
  });
  sockets.set(id, socket);
  socket.on("connect", () => out({ id, kind: "connect", sid: socket.id }));
  socket.on("connect_error", (err) =>
    out({ id, kind: "connect_error", message: err.message, data: err.data ?? null }),
  );
  socket.on("disconnect", (reason) => out({ id, kind: "disconnect", reason }));
  socket.onAny((event, ...args) => out({ id, kind: "event", event, args }));
}

/** One connect → authenticate → whoami → close cycle, reported in a single line. */
function cycle(id, url, token) {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, timeout: 5000 });
  let done = false;
  const finish = (outcome) => {
    if (done) return;
    done = true;
    socket.close();
    out({ id, kind: "cycle_done", outcome });
  };
  socket.on("connect", () => {
    if (token !== null) socket.emit("authenticate", { token });
  });
  socket.on("authenticated", () => {
    socket.emit("whoami", (me) => finish(me && me.sub ? "served" : "no-claims"));
  });
  socket.on("unauthorized", (err) => finish(err?.code ?? "unauthorized"));
  socket.on("connect_error", (err) => finish(`connect_error:${err.message}`));
  socket.on("disconnect", (reason) => finish(`disconnect:${reason}`));
}

function handle(cmd) {
  switch (cmd.op) {
    case "connect":
      return open(cmd.id, cmd.url, cmd.opts ?? {});
    case "connect_many":
      for (let i = 0; i < cmd.count; i++) open(`${cmd.prefix}${i}`, cmd.url, cmd.opts ?? {});
      return;
    case "emit": {
      const socket = sockets.get(cmd.id);
      if (!socket) return out({ kind: "error", message: `no socket ${cmd.id}` });
      const args = cmd.args ?? [];
      if (cmd.ack) {
        socket.emit(cmd.event, ...args, (...ackArgs) =>
          out({ id: cmd.id, kind: "ack", ack: cmd.ack, args: ackArgs }),
        );
      } else {
        socket.emit(cmd.event, ...args);
      }
      return;
    }
    case "drop_transport":
      return sockets.get(cmd.id)?.io.engine.close();
    case "close":
      sockets.get(cmd.id)?.close();
      sockets.delete(cmd.id);
      return;
    case "cycle":
      for (let i = 0; i < cmd.count; i++) cycle(`${cmd.prefix}${i}`, cmd.url, cmd.token ?? null);
      return;
    case "ping":
      return out({ kind: "pong", seq: cmd.seq });
    default:
      return out({ kind: "error", message: `unknown op ${cmd.op}` });
  }
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (e) {
    out({ kind: "error", message: String(e) });
  }
});
rl.on("close", () => {
  for (const s of sockets.values()) s.close();
  process.exit(0);
});
