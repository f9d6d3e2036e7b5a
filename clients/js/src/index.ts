/**
 * socketioxide-jwt-client: a stock socket.io-client, authenticated with a JWT.
 *
 * ```ts
 * const auth = new AuthSocket({ url: "https://chat.example.com", getToken: () => token });
 * auth.connect();                        // only when the app asks, e.g. after login
 * const me = await auth.authenticated(); // resolves once the server said "authenticated"
 * auth.socket.emit("chat message", { text: "hi" });
 * ```
 */
import { io as defaultIo } from "socket.io-client";
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";

import { AuthError } from "./errors.js";
import type { AuthenticatedInfo, AuthState, Effect, Input, TokenReason } from "./inputs.js";
import { Machine } from "./state-machine.js";
import { DEFAULT_ACK_TIMEOUT_MS, DEFAULT_MAX_RECOVERIES, DEFAULT_REFRESH_MARGIN_MS, EVENTS, TOKEN_FIELD } from "./protocol.js";
import { refusalFrom } from "./rules.js";

export { AuthError, type ErrorObject } from "./errors.js";
export { busyBackoffMs, refreshDelayMs, refusalFrom } from "./rules.js";
export * from "./protocol.js";
export type { AuthenticatedInfo, AuthState, TokenReason } from "./inputs.js";

/**
 * Why a token is asked for: the first connection, a reconnection, an in-band refresh, or a new
 * token after the server refused the last one because it expired or was revoked (return a
 * *different* token, or throw: the helper never retries a refused token).
 */
export interface TokenRequest {
  reason: TokenReason;
}

/** What the server said with "token_expiring". */
export interface TokenExpiringInfo {
  /** The token's expiry, seconds since the Unix epoch. */
  exp: number;
  /** Milliseconds left when the server sent it (by the server's clock). */
  expires_in_ms: number;
}

/** Options of {@link AuthSocket}. */
export interface AuthSocketOptions {
  /** Server URL, with the namespace (e.g. `https://example.com/chat`). */
  url: string;
  /** Returns the current token; called for every (re)connect and for each refresh. */
  getToken: (request: TokenRequest) => string | Promise<string>;
  /** `message` (emit `authenticate` after connecting, the default) or `handshake` (`auth` payload). */
  mode?: "message" | "handshake";
  /** Refresh in-band before `exp` (default true). */
  refresh?: boolean;
  /**
   * Refresh this long before `exp` (default 60 000 ms); never later than half the remaining
   * lifetime, so short-lived tokens are refreshed in time too.
   */
  refreshMarginMs?: number;
  /**
   * After `token_expired` or `revoked` (an `unauthorized` event, or a refused handshake), ask
   * `getToken` for a new token and reconnect with it (default true). A token equal to the
   * refused one, a throwing `getToken`, or {@link maxRecoveries} refusals in a row end in the
   * `unauthorized` state with the server's error: never a reconnect loop with a stale token.
   */
  recover?: boolean;
  /** New tokens tried in a row before giving up (default 3). */
  maxRecoveries?: number;
  /**
   * In a browser, when the page becomes visible again or the network comes back, refresh at
   * once if the token is within `refreshMarginMs` of its expiry (default true): timers of a
   * background tab are throttled, and frozen on a sleeping device.
   */
  refreshOnWake?: boolean;
  /** How long a refresh waits for the server's ack (default 10 000 ms). */
  ackTimeoutMs?: number;
  /** Event names, if the server renamed them. */
  events?: Partial<typeof EVENTS>;
  /** Passed to socket.io-client's `io()`. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /** socket.io-client's `io`, to inject another build (defaults to the imported one). */
  io?: (url: string, opts: Partial<ManagerOptions & SocketOptions>) => Socket;
}

interface Waiter {
  resolve: (info: AuthenticatedInfo) => void;
  reject: (reason: unknown) => void;
}

/** The longest delay `setTimeout` honours (2^31 - 1 ms); beyond, it fires at once. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The browser's page events, when there is a page. */
function pageEvents(): { document?: Document; window?: Window } {
  const g = globalThis as { document?: Document; window?: Window };
  return { document: g.document, window: g.window };
}

/**
 * A socket.io-client socket that authenticates on every (re)connect, exposes "authenticated" as
 * a promise, refreshes its token before it expires (on its own timer, on the server's
 * `token_expiring`, and when a page wakes up), and recovers from an expired or revoked token with
 * a new one.
 *
 * Every decision is the state machine's (`state-machine.ts`, the same as the Rust client's); this
 * class only carries its effects out on socket.io-client, timers and the page.
 */
export class AuthSocket {
  readonly #opts: AuthSocketOptions;
  readonly #events: typeof EVENTS;
  readonly #ackTimeoutMs: number;
  readonly #machine: Machine;
  #socket: Socket | null = null;
  /** Waiting for the next `authenticated` (rejected on a final refusal). */
  #waiters: Waiter[] = [];
  /** The transport's handshake, waiting for its token. */
  #handshakeCallback: ((data: object) => void) | null = null;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #unlistenPage: (() => void) | null = null;
  readonly #stateListeners = new Set<(state: AuthState, error: AuthError | null) => void>();

  constructor(options: AuthSocketOptions) {
    this.#opts = options;
    this.#events = { ...EVENTS, ...options.events };
    this.#ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.#machine = new Machine({
      mode: options.mode ?? "message",
      refresh: options.refresh ?? true,
      refreshMarginMs: options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS,
      maxRecoveries: options.recover === false ? 0 : (options.maxRecoveries ?? DEFAULT_MAX_RECOVERIES),
      reconnect: options.socketOptions?.reconnection !== false,
    });
  }

  /** The underlying socket.io-client socket (after {@link connect}). */
  get socket(): Socket {
    if (!this.#socket) throw new Error("AuthSocket: call connect() first");
    return this.#socket;
  }

  /** The current state. */
  get state(): AuthState {
    return this.#machine.state;
  }

  /** Why the socket was last refused, if it was. */
  get lastError(): AuthError | null {
    return this.#machine.lastError;
  }

  /** Claims the server confirmed with the last "authenticated". */
  get info(): AuthenticatedInfo | null {
    return this.#machine.info;
  }

  /** Calls `listener` on every state change; returns the function that removes it. */
  onStateChange(listener: (state: AuthState, error: AuthError | null) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Opens the connection (once; later calls reconnect a closed or refused socket). */
  connect(): this {
    this.#listenToPage();
    this.#step({ kind: "connect" });
    return this;
  }

  /**
   * Resolves once the socket is authenticated (at once if it is), with what the server said;
   * rejects with an {@link AuthError} if this attempt is refused.
   */
  authenticated(): Promise<AuthenticatedInfo> {
    const info = this.#machine.info;
    if (this.state === "authenticated" && info) return Promise.resolve(info);
    if (this.state === "unauthorized" && this.lastError) return Promise.reject(this.lastError);
    return this.#nextAuthenticated();
  }

  /**
   * Refreshes the token in-band now (or joins the refresh under way; past the per-minute cap,
   * when the minute allows); resolves with the server's next `authenticated`, rejects if the
   * refresh is refused, `getToken` fails, or no `authenticated` comes within `ackTimeoutMs`.
   */
  refresh(): Promise<AuthenticatedInfo> {
    const next = this.#nextAuthenticated();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("AuthSocket: no answer to the refresh in time")), this.#ackTimeoutMs);
    });
    this.#step({ kind: "refresh_requested" });
    const answered = Promise.race([next, timeout]).finally(() => clearTimeout(timer));
    answered.catch(() => {});
    return answered;
  }

  /** Closes the connection; no reconnect. Whoever waits for `authenticated` is told. */
  disconnect(): void {
    this.#unlistenPage?.();
    this.#unlistenPage = null;
    this.#step({ kind: "close" });
    this.#settle((w) => w.reject(new Error("AuthSocket: disconnected")));
  }

  #nextAuthenticated(): Promise<AuthenticatedInfo> {
    const promise = new Promise<AuthenticatedInfo>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    // Nobody may be waiting: a rejection must not become an unhandled rejection.
    promise.catch(() => {});
    return promise;
  }

  /** Feeds one input to the machine, carries out its effects, tells who waits. */
  #step(input: Input): void {
    const before = this.#machine.state;
    const effects = this.#machine.step(input, { ms: Date.now(), jitter: Math.random() });
    const after = this.#machine.state;
    for (const effect of effects) this.#run(effect);
    if (input.kind === "authenticated" && after === "authenticated") this.#settle((w) => w.resolve(input.info ?? {}));
    if (after === "unauthorized" && before !== "unauthorized") {
      const error = this.#machine.lastError;
      this.#settle((w) => w.reject(error));
    }
    if (after === before) return;
    for (const listener of this.#stateListeners) {
      try {
        listener(after, this.#machine.lastError);
      } catch (e) {
        // A listener's bug must not stop the helper (nor become an unhandled rejection).
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  #settle(how: (waiter: Waiter) => void): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) how(waiter);
  }

  #run(effect: Effect): void {
    switch (effect.kind) {
      case "fetch_token":
        void this.#fetchToken(effect.reason, effect.id);
        return;
      case "authenticate":
        if (this.#socket?.connected) this.#socket.emit(this.#events.authenticate, { [TOKEN_FIELD]: effect.token });
        return;
      case "send_refresh":
        this.#sendRefresh(effect.token);
        return;
      case "handshake_token": {
        const callback = this.#handshakeCallback;
        this.#handshakeCallback = null;
        callback?.({ [TOKEN_FIELD]: effect.token });
        return;
      }
      case "open":
        this.#open();
        return;
      case "set_timer":
        this.#setTimer(effect.timer, effect.delayMs, effect.epoch);
        return;
      case "shutdown":
        this.#shutdown();
        return;
    }
  }

  async #fetchToken(reason: TokenReason, id: number): Promise<void> {
    let token: string;
    try {
      token = await this.#opts.getToken({ reason });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // A refresh that got no token: whoever waits for it hears why (the machine tries again).
      if (reason === "refresh") this.#settle((w) => w.reject(e));
      this.#step({ kind: "token_failed", reason, id, message });
      return;
    }
    this.#step({ kind: "token", reason, id, token });
  }

  /** A refresh's `authenticate`: its ack is waited for (bounded); a refusal also arrives as "unauthorized". */
  #sendRefresh(token: string): void {
    const socket = this.#socket;
    if (!socket?.connected) return;
    socket
      .timeout(this.#ackTimeoutMs)
      .emitWithAck(this.#events.authenticate, { [TOKEN_FIELD]: token })
      .then(
        (ack: unknown) => {
          const error = AuthError.fromObject(ack);
          if (error) this.#settle((w) => w.reject(error));
        },
        () => this.#step({ kind: "refresh_unanswered" }),
      );
  }

  /** Opens the connection: the socket the first time, a new connection after that. */
  #open(): void {
    const socket = this.#socket;
    if (!socket) {
      this.#socket = this.#create();
      return;
    }
    // After a refusal the server closes the old connection; do not wait for it.
    if (socket.connected) socket.disconnect();
    socket.connect();
  }

  #create(): Socket {
    const io = this.#opts.io ?? defaultIo;
    const socketOptions: Partial<ManagerOptions & SocketOptions> = { ...this.#opts.socketOptions };
    if (this.#opts.mode === "handshake") {
      // A function: socket.io-client asks it before every (re)connect, the machine answers.
      socketOptions.auth = (cb: (data: object) => void) => {
        this.#handshakeCallback = cb;
        this.#step({ kind: "handshake_auth" });
      };
    }
    const socket = io(this.#opts.url, socketOptions);
    this.#listen(socket);
    return socket;
  }

  #listen(socket: Socket): void {
    socket.on("connect", () => this.#step({ kind: "connected" }));
    socket.on(this.#events.authenticated, (info: AuthenticatedInfo) => this.#step({ kind: "authenticated", info: info ?? {} }));
    socket.on(this.#events.unauthorized, (payload: unknown) => this.#step({ kind: "unauthorized", error: refusalFrom(payload) }));
    socket.on(this.#events.token_expiring, (warning: TokenExpiringInfo) =>
      this.#step({ kind: "token_expiring", info: warning ?? {} }),
    );
    socket.on("connect_error", (err: Error) => {
      const error = AuthError.fromConnectError(err);
      // A refusal by the server, else a connection that could not be opened (network, proxy).
      this.#step(error ? { kind: "connect_refused", error } : { kind: "open_failed" });
    });
    socket.on("disconnect", (reason: string) => {
      if (reason === "io client disconnect") return; // ours
      this.#step(reason === "io server disconnect" ? { kind: "server_closed" } : { kind: "connection_lost" });
    });
  }

  /**
   * Sets a timer (one of each kind: a new one replaces the old). Timers take at most 2^31 - 1
   * ms (~24.8 days); a longer delay is waited in steps.
   */
  #setTimer(timer: "refresh" | "busy_retry", delayMs: number, epoch: number): void {
    const existing = this.#timers.get(timer);
    if (existing) clearTimeout(existing);
    const wait = (left: number) => {
      const chunk = Math.min(Math.max(left, 0), MAX_TIMER_DELAY_MS);
      this.#timers.set(
        timer,
        setTimeout(() => {
          this.#timers.delete(timer);
          if (left > chunk) wait(left - chunk);
          else this.#step({ kind: "timer_fired", timer, epoch });
        }, chunk),
      );
    };
    wait(delayMs);
  }

  #shutdown(): void {
    for (const handle of this.#timers.values()) clearTimeout(handle);
    this.#timers.clear();
    this.#handshakeCallback = null;
    this.#socket?.disconnect();
  }

  /** Tells the machine when the page wakes up (timers of a background tab are throttled). */
  #listenToPage(): void {
    const { document, window } = pageEvents();
    if (this.#opts.refreshOnWake === false || this.#unlistenPage || !document || !window) return;
    const onWake = () => {
      if (document.visibilityState !== "hidden") this.#step({ kind: "woke_up" });
    };
    document.addEventListener("visibilitychange", onWake);
    window.addEventListener("online", onWake);
    this.#unlistenPage = () => {
      document.removeEventListener("visibilitychange", onWake);
      window.removeEventListener("online", onWake);
    };
  }
}

/** Same as `new AuthSocket(options)`. */
export function createAuthSocket(options: AuthSocketOptions): AuthSocket {
  return new AuthSocket(options);
}
