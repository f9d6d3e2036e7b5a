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
import { EVENTS, TOKEN_FIELD } from "./protocol.js";

export { AuthError, type ErrorObject } from "./errors.js";
export {
  AUTHENTICATE_ACK_OK,
  AUTHENTICATED_FIELDS,
  DEFAULT_MESSAGES,
  ERROR_CODES,
  ERROR_TYPE,
  EVENTS,
  SERVER_BUSY,
  TOKEN_FIELD,
  isErrorCode,
  type ErrorCode,
} from "./protocol.js";

/** Where the socket stands. */
export type AuthState =
  | "idle" // not connected yet, or closed by the app
  | "connecting" // (re)connecting
  | "authenticating" // connected, waiting for "authenticated"
  | "authenticated"
  | "unauthorized"; // refused: see lastError; the server disconnected the socket

/** Why a token is asked for. */
export interface TokenRequest {
  reason: "connect" | "reconnect" | "refresh";
}

/** What the server said with "authenticated". */
export interface AuthenticatedInfo {
  sub?: string;
  /** Expiry, seconds since the Unix epoch. */
  exp?: number;
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

const MIN_REFRESH_DELAY_MS = 500;

/**
 * A socket.io-client socket that authenticates on every (re)connect, exposes "authenticated" as
 * a promise, and refreshes its token before it expires.
 */
export class AuthSocket {
  readonly #opts: Required<Pick<AuthSocketOptions, "mode" | "refresh" | "refreshMarginMs">> & AuthSocketOptions;
  readonly #events: typeof EVENTS;
  #socket: Socket | null = null;
  #state: AuthState = "idle";
  #info: AuthenticatedInfo | null = null;
  #lastError: AuthError | null = null;
  #attempt: Deferred<AuthenticatedInfo> | null = null;
  #refreshTimer: ReturnType<typeof setTimeout> | null = null;
  #connectedBefore = false;
  readonly #stateListeners = new Set<(state: AuthState, error: AuthError | null) => void>();

  constructor(options: AuthSocketOptions) {
    this.#opts = { mode: "message", refresh: true, refreshMarginMs: 60_000, ...options };
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
    if (this.#socket) {
      if (!this.#socket.connected) {
        this.#lastError = null;
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
        Promise.resolve()
          .then(() => this.#opts.getToken({ reason: this.#connectedBefore ? "reconnect" : "connect" }))
          .then(
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
    const ack: unknown = await socket.emitWithAck(this.#events.authenticate, { [TOKEN_FIELD]: token });
    const error = AuthError.fromObject(ack);
    if (error) throw error;
    return this.authenticated();
  }

  /** Closes the connection; no reconnect. */
  disconnect(): void {
    this.#clearRefresh();
    this.#socket?.disconnect();
    this.#setState("idle");
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
      this.#lastError = null;
      this.#setState("authenticated");
      this.#attempt?.resolve(this.#info);
      this.#attempt = null;
      this.#scheduleRefresh();
    });
    socket.on(this.#events.unauthorized, (payload: unknown) => {
      this.#fail(AuthError.fromObject(payload) ?? new AuthError("invalid_token"));
    });
    socket.on("connect_error", (err: Error) => {
      const error = AuthError.fromConnectError(err);
      if (error) this.#fail(error);
      // Anything else is a network failure: socket.io-client retries by itself.
    });
    socket.on("disconnect", (reason: string) => {
      this.#clearRefresh();
      if (this.#state === "unauthorized" || reason === "io client disconnect") return;
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
      token = await this.#opts.getToken({ reason });
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
    const exp = this.#info?.exp;
    if (!this.#opts.refresh || typeof exp !== "number") return;
    const remaining = exp * 1000 - Date.now();
    const delay = Math.max(remaining - this.#opts.refreshMarginMs, remaining / 2, MIN_REFRESH_DELAY_MS);
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = null;
      // A refused refresh arrives as "unauthorized" too; nothing else to do here.
      this.refresh().catch(() => {});
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

/** Same as `new AuthSocket(options)`. */
export function createAuthSocket(options: AuthSocketOptions): AuthSocket {
  return new AuthSocket(options);
}
