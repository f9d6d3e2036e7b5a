// A stand-in for socket.io-client's io(), for unit tests: records what the helper emits and
// lets the test play the server.

export class FakeSocket {
  constructor(url, opts) {
    this.url = url;
    this.opts = opts;
    this.connected = false;
    this.handlers = new Map();
    this.sent = [];
    this.connectCalls = 0;
    this.ackReplies = [];
  }
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }
  listeners(event) {
    return this.handlers.get(event) ?? [];
  }
  listenerCount() {
    let n = 0;
    for (const list of this.handlers.values()) n += list.length;
    return n;
  }
  emit(event, ...args) {
    this.sent.push({ event, args });
    return this;
  }
  timeout(ms) {
    this.ackTimeouts = [...(this.ackTimeouts ?? []), ms];
    return this;
  }
  async emitWithAck(event, ...args) {
    this.sent.push({ event, args });
    return this.ackReplies.shift() ?? { ok: true };
  }
  connect() {
    this.connectCalls += 1;
    return this;
  }
  disconnect() {
    const was = this.connected;
    this.connected = false;
    if (was) this.fire("disconnect", "io client disconnect");
    return this;
  }
  // --- test side ---
  fire(event, ...args) {
    for (const fn of this.listeners(event)) fn(...args);
  }
  serverConnect() {
    this.connected = true;
    this.fire("connect");
  }
  serverDrop(reason = "transport close") {
    this.connected = false;
    this.fire("disconnect", reason);
  }
  /** Runs the handshake `auth` option like socket.io-client does. */
  handshakeAuth() {
    return new Promise((resolve) => {
      if (typeof this.opts.auth === "function") this.opts.auth(resolve);
      else resolve(this.opts.auth);
    });
  }
}

export function fakeIo() {
  const created = [];
  const io = (url, opts) => {
    const socket = new FakeSocket(url, opts);
    created.push(socket);
    return socket;
  };
  return { io, created };
}

/** Lets pending promise callbacks run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));
