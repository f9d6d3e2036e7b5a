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
import { EVENTS, MAX_REFRESHES_PER_MINUTE, SERVER_BUSY, TOKEN_FIELD, isRecoverable } from "./protocol.js";
import { busyBackoffMs, refreshDelayMs, refusalFrom } from "./rules.js";

export { AuthError, type ErrorObject } from "./errors.js";
export { busyBackoffMs, refreshDelayMs, refusalFrom } from "./rules.js";
export * from "./protocol.js";

/** Where the socket stands. */
export type AuthState =
  | "idle" // not connected yet, or closed by the app
  | "connecting" // (re)connecting
  | "authenticating" // connected, waiting for "authenticated"
  | "authenticated"
  | "waiting" // the server was busy (`server_busy`): connecting again after a backoff
  | "unauthorized"; // refused: see lastError; the server disconnected the socket

/**
 * Why a token is asked for: the first connection, a reconnection, an in-band refresh, or a new
 * token after the server refused the last one because it expired or was revoked (return a
 * *different* token, or throw: the helper never retries a refused token).
 */
export interface TokenRequest {
  reason: "connect" | "reconnect" | "refresh" | "expired" | "revoked";
}

/** What the server said with "token_expiring". */
export interface TokenExpiringInfo {
  /** The token's expiry, seconds since the Unix epoch. */
  exp: number;
  /** Milliseconds left when the server sent it (by the server's clock). */
  expires_in_ms: number;
}

/** What the server said with "authenticated". */
export interface AuthenticatedInfo {
  sub?: string;
  /** Expiry, seconds since the Unix epoch. */
  exp?: number;
  /** Milliseconds left until `exp` when the server sent it, by the server's clock. */
  expires_in_ms?: number;
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

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting: a rejection must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The longest delay `setTimeout` honours (2^31 - 1 ms); beyond, it fires at once. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

type Defaults = "mode" | "refresh" | "refreshMarginMs" | "recover" | "maxRecoveries" | "refreshOnWake" | "ackTimeoutMs";

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
 */
export class AuthSocket {
  readonly #opts: Required<Pick<AuthSocketOptions, Defaults>> & AuthSocketOptions;
  readonly #events: typeof EVENTS;
  #socket: Socket | null = null;
  #state: AuthState = "idle";
  #info: AuthenticatedInfo | null = null;
  #lastError: AuthError | null = null;
  #attempt: Deferred<AuthenticatedInfo> | null = null;
  #refreshTimer: ReturnType<typeof setTimeout> | null = null;
  #connectedBefore = false;
  /** The token last sent to the server (what a refusal refers to). */
  #lastToken: string | null = null;
  /** A new token fetched after a refusal, for the next connection. */
  #nextToken: string | null = null;
  /** New tokens tried in a row since the last success. */
  #recoveries = 0;
  /** Set while a new token is fetched after a refusal: the coming disconnect is expected. */
  #recovering = false;
  #refreshing: Promise<void> | null = null;
  /** When the token expires, on this machine's clock (from the server's `expires_in_ms`). */
  #expiresAt: number | null = null;
  /** When the last refreshes started (the rolling-minute floor). */
  #refreshTimes: number[] = [];
  /** `server_busy` answers in a row, for the backoff. */
  #busyRetries = 0;
  #busyTimer: ReturnType<typeof setTimeout> | null = null;
  #unlistenPage: (() => void) | null = null;
  readonly #stateListeners = new Set<(state: AuthState, error: AuthError | null) => void>();

  constructor(options: AuthSocketOptions) {
    this.#opts = {
      mode: "message",
      refresh: true,
      refreshMarginMs: 60_000,
      recover: true,
      maxRecoveries: 3,
      refreshOnWake: true,
      ackTimeoutMs: 10_000,
      ...options,
    };
    this.#events = { ...EVENTS, ...options.events };
  }

  /** The underlying socket.io-client socket (after {@link connect}). */
  get socket(): Socket {
    if (!this.#socket) throw new Error("AuthSocket: call connect() first");
    return this.#socket;
  }

  /** The current state. */
  get state(): AuthState {
    return this.#state;
  }

  /** Why the socket was last refused, if it was. */
  get lastError(): AuthError | null {
    return this.#lastError;
  }

  /** Claims the server confirmed with the last "authenticated". */
  get info(): AuthenticatedInfo | null {
    return this.#info;
  }

  /** Calls `listener` on every state change; returns the function that removes it. */
  onStateChange(listener: (state: AuthState, error: AuthError | null) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Opens the connection (once; later calls reconnect a closed socket). */
  connect(): this {
    this.#listenToPage();
    if (this.#socket) {
      if (!this.#socket.connected) {
        this.#lastError = null;
        this.#recoveries = 0;
        this.#setState("connecting");
        this.#socket.connect();
      }
      return this;
    }
    const io = this.#opts.io ?? defaultIo;
    const socketOptions: Partial<ManagerOptions & SocketOptions> = { ...this.#opts.socketOptions };
    if (this.#opts.mode === "handshake") {
      // A function, so that every reconnect sends a current token.
      socketOptions.auth = (cb: (data: object) => void) => {
        this.#currentToken(this.#connectedBefore ? "reconnect" : "connect").then(
          (token) => cb({ [TOKEN_FIELD]: token }),
          () => cb({}),
        );
      };
    }
    this.#setState("connecting");
    const socket = io(this.#opts.url, socketOptions);
    this.#socket = socket;
    this.#listen(socket);
    return this;
  }

  /**
   * Resolves once the socket is authenticated (at once if it is), with what the server said;
   * rejects with an {@link AuthError} if this attempt is refused.
   */
  authenticated(): Promise<AuthenticatedInfo> {
    if (this.#state === "authenticated" && this.#info) return Promise.resolve(this.#info);
    if (this.#state === "unauthorized" && this.#lastError) return Promise.reject(this.#lastError);
    this.#attempt ??= deferred();
    return this.#attempt.promise;
  }

  /** Refreshes the token in-band now; resolves with the new expiry once the server accepted it. */
  async refresh(): Promise<AuthenticatedInfo> {
    const socket = this.socket;
    const token = await this.#opts.getToken({ reason: "refresh" });
    this.#lastToken = token;
    const ack: unknown = await socket
      .timeout(this.#opts.ackTimeoutMs)
      .emitWithAck(this.#events.authenticate, { [TOKEN_FIELD]: token });
    const error = AuthError.fromObject(ack);
    if (error) throw error;
    return this.authenticated();
  }

  /** Closes the connection; no reconnect. */
  disconnect(): void {
    this.#clearRefresh();
    this.#recovering = false;
    this.#unlistenPage?.();
    this.#unlistenPage = null;
    if (this.#busyTimer) clearTimeout(this.#busyTimer);
    this.#busyTimer = null;
    this.#socket?.disconnect();
    this.#setState("idle");
  }

  /** One refresh at a time: a timer, a warning and a wake-up at once make one request. */
  #refreshOnce(): void {
    if (this.#refreshing || !this.#opts.refresh || this.#state !== "authenticated") return;
    const now = Date.now();
    this.#refreshTimes = this.#refreshTimes.filter((t) => now - t < 60_000);
    if (this.#refreshTimes.length >= MAX_REFRESHES_PER_MINUTE) {
      // Too many this minute: try again when the oldest leaves the window.
      this.#clearRefresh();
      this.#refreshTimer = setTimeout(() => {
        this.#refreshTimer = null;
        this.#refreshOnce();
      }, 60_000 - (now - this.#refreshTimes[0]));
      return;
    }
    this.#refreshTimes.push(now);
    // A refused refresh arrives as "unauthorized" too; nothing else to do here.
    this.#refreshing = this.refresh()
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        this.#refreshing = null;
      });
  }

  /** The token for a (re)connection: the one fetched after a refusal, else a current one. */
  async #currentToken(reason: TokenRequest["reason"]): Promise<string> {
    const token = this.#nextToken ?? (await this.#opts.getToken({ reason }));
    this.#nextToken = null;
    this.#lastToken = token;
    return token;
  }

  /** Refreshes at once when the page wakes up with a token near or past its expiry. */
  #listenToPage(): void {
    const { document, window } = pageEvents();
    if (!this.#opts.refreshOnWake || this.#unlistenPage || !document || !window) return;
    const onWake = () => {
      if (document.visibilityState === "hidden") return;
      const remaining = this.#remainingMs();
      if (remaining !== null && remaining <= this.#opts.refreshMarginMs) this.#refreshOnce();
    };
    document.addEventListener("visibilitychange", onWake);
    window.addEventListener("online", onWake);
    this.#unlistenPage = () => {
      document.removeEventListener("visibilitychange", onWake);
      window.removeEventListener("online", onWake);
    };
  }

  /** A refusal: recover with a new token when that can help, else end in `unauthorized`. */
  #refused(error: AuthError): void {
    const recoverable = isRecoverable(error.code);
    if (!this.#opts.recover || !recoverable || this.#state === "idle") {
      this.#fail(error);
      return;
    }
    if (this.#recovering) return;
    void this.#recover(error);
  }

  async #recover(error: AuthError): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this.#clearRefresh();
    if (this.#recoveries >= this.#opts.maxRecoveries) {
      this.#fail(error);
      return;
    }
    this.#recoveries += 1;
    this.#recovering = true;
    this.#setState("connecting");
    let token: string;
    try {
      token = await this.#opts.getToken({ reason: error.code === "revoked" ? "revoked" : "expired" });
    } catch {
      token = "";
    }
    if (!this.#recovering) return; // disconnect() meanwhile
    if (!token || token === this.#lastToken) {
      // Nothing new to try: retrying the refused token would only be refused again.
      this.#recovering = false;
      socket.disconnect();
      this.#fail(error);
      return;
    }
    this.#nextToken = token;
    // The server disconnects a refused socket; do not wait for it, start over at once.
    if (socket.connected) socket.disconnect();
    this.#recovering = false;
    socket.connect();
  }

  #listen(socket: Socket): void {
    socket.on("connect", () => {
      const reason = this.#connectedBefore ? "reconnect" : "connect";
      this.#connectedBefore = true;
      this.#setState("authenticating");
      if (this.#opts.mode === "message") void this.#sendToken(socket, reason);
    });
    socket.on(this.#events.authenticated, (info: AuthenticatedInfo) => {
      this.#info = info ?? {};
      this.#expiresAt = expiresAt(this.#info.exp, this.#info.expires_in_ms);
      this.#lastError = null;
      this.#recoveries = 0;
      this.#busyRetries = 0;
      this.#setState("authenticated");
      this.#attempt?.resolve(this.#info);
      this.#attempt = null;
      this.#scheduleRefresh();
    });
    socket.on(this.#events.unauthorized, (payload: unknown) => {
      this.#refused(refusalFrom(payload));
    });
    socket.on(this.#events.token_expiring, (warning: TokenExpiringInfo) => {
      // The server's clock is the one that counts.
      this.#expiresAt = expiresAt(warning?.exp, warning?.expires_in_ms) ?? this.#expiresAt;
      // The server's push reaches a page whose own refresh timer was throttled.
      this.#refreshOnce();
    });
    socket.on("connect_error", (err: Error) => {
      const error = AuthError.fromConnectError(err);
      if (error && error.code === SERVER_BUSY) this.#waitAndRetry(socket, error);
      else if (error) this.#refused(error);
      // Anything else is a network failure: socket.io-client retries by itself.
    });
    socket.on("disconnect", (reason: string) => {
      this.#clearRefresh();
      if (this.#state === "unauthorized" || this.#recovering || reason === "io client disconnect") return;
      if (reason === "io server disconnect") {
        this.#fail(new AuthError("forbidden", "the server closed the connection"));
        return;
      }
      this.#setState("connecting");
    });
  }

  async #sendToken(socket: Socket, reason: TokenRequest["reason"]): Promise<void> {
    let token: string;
    try {
      token = await this.#currentToken(reason);
    } catch (e) {
      this.#fail(new AuthError("credentials_required", e instanceof Error ? e.message : undefined));
      socket.disconnect();
      return;
    }
    if (socket.connected) socket.emit(this.#events.authenticate, { [TOKEN_FIELD]: token });
  }

  #fail(error: AuthError): void {
    this.#clearRefresh();
    this.#lastError = error;
    this.#setState("unauthorized");
    this.#attempt?.reject(error);
    this.#attempt = null;
  }

  #scheduleRefresh(): void {
    this.#clearRefresh();
    const remaining = this.#remainingMs();
    if (!this.#opts.refresh || remaining === null) return;
    const delay = refreshDelayMs({ expires_in_ms: remaining }, this.#opts.refreshMarginMs, Date.now()) ?? 0;
    if (delay > MAX_TIMER_DELAY_MS) {
      // Timers take at most 2^31 - 1 ms (~24.8 days); a longer delay would fire at once, and
      // refresh in a loop. Wait the longest a timer can, then schedule again.
      this.#refreshTimer = setTimeout(() => {
        this.#refreshTimer = null;
        this.#scheduleRefresh();
      }, MAX_TIMER_DELAY_MS);
      return;
    }
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = null;
      this.#refreshOnce();
    }, delay);
  }

  /** Milliseconds until the token expires, by the server's clock; `null` without an `exp`. */
  #remainingMs(): number | null {
    return this.#expiresAt === null ? null : this.#expiresAt - Date.now();
  }

  /**
   * `server_busy` is not a refusal: wait (exponential backoff with full jitter, in the visible
   * `waiting` state), then connect again. socket.io-client does not retry a refused connection
   * by itself.
   */
  #waitAndRetry(socket: Socket, error: AuthError): void {
    this.#lastError = error;
    this.#setState("waiting");
    const delay = busyBackoffMs(this.#busyRetries, Math.random());
    this.#busyRetries += 1;
    if (this.#busyTimer) clearTimeout(this.#busyTimer);
    this.#busyTimer = setTimeout(() => {
      this.#busyTimer = null;
      if (this.#state !== "waiting") return; // disconnect() meanwhile
      this.#setState("connecting");
      socket.connect();
    }, delay);
  }

  #clearRefresh(): void {
    if (this.#refreshTimer) clearTimeout(this.#refreshTimer);
    this.#refreshTimer = null;
  }

  #setState(state: AuthState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state, this.#lastError);
  }
}

/**
 * When a token expires, on this machine's clock: now plus the server's `expires_in_ms` (which no
 * clock skew can bend), else `exp` read against the local clock (servers that do not send it).
 */
function expiresAt(exp: unknown, expiresInMs: unknown): number | null {
  if (typeof expiresInMs === "number" && Number.isFinite(expiresInMs)) return Date.now() + expiresInMs;
  if (typeof exp === "number" && Number.isFinite(exp)) return exp * 1000;
  return null;
}

/** Same as `new AuthSocket(options)`. */
export function createAuthSocket(options: AuthSocketOptions): AuthSocket {
  return new AuthSocket(options);
}
