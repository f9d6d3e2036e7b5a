/**
 * The helper's state machine: what to do on each event, with no I/O and no clock of its own.
 *
 * {@link Machine.step} takes an {@link Input} (something the server, the transport, the token
 * source, a timer, the page or the application did) and the time ({@link Now}), updates the
 * state, and returns the {@link Effect}s for the glue ({@link AuthSocket}) to carry out. It is
 * the Rust client's `machine.rs` in TypeScript: both pass every row of
 * `protocol/scenarios.json`.
 */
import { AuthError } from "./errors.js";
import { MAX_REFRESHES_PER_MINUTE, SERVER_BUSY, isRecoverable } from "./protocol.js";
import { busyBackoffMs, refreshDelayMs } from "./rules.js";

/** Where the socket stands. */
export type AuthState =
  | "idle" // not connected yet, or closed by the app
  | "connecting" // (re)connecting
  | "authenticating" // connected, waiting for "authenticated"
  | "authenticated"
  | "waiting" // the server was busy, closed the connection, or could not be reached: connecting again after a backoff
  | "unauthorized"; // refused: see lastError; the server disconnected the socket

/**
 * Why a token is asked for: the first connection, a reconnection, an in-band refresh, or a new
 * token after the server refused the last one because it expired or was revoked.
 */
export type TokenReason = "connect" | "reconnect" | "refresh" | "expired" | "revoked";

/** What the server said with "authenticated". */
export interface AuthenticatedInfo {
  sub?: string;
  /** Expiry, seconds since the Unix epoch. */
  exp?: number;
  /** Milliseconds left until `exp` when the server sent it, by the server's clock. */
  expires_in_ms?: number;
}

/** The machine's timers. */
export type Timer = "refresh" | "busy_retry";

/** What happened. */
export type Input =
  /** The application asked to connect. */
  | { kind: "connect" }
  /** The transport asks for the token of the handshake it is about to make (handshake mode). */
  | { kind: "handshake_auth" }
  /** The namespace connected. */
  | { kind: "connected" }
  /** The connection was lost; the transport reconnects by itself. */
  | { kind: "connection_lost" }
  /** The server closed the connection without `unauthorized`. */
  | { kind: "server_closed" }
  /** The server refused the handshake (`connect_error` from the server). */
  | { kind: "connect_refused"; error: AuthError }
  /** The connection could not be opened (a network error, a proxy's error page). */
  | { kind: "open_failed" }
  | { kind: "authenticated"; info: AuthenticatedInfo }
  | { kind: "unauthorized"; error: AuthError }
  /** `token_expiring`: the server's expiry (`exp`, `expires_in_ms`) and a refresh now. */
  | { kind: "token_expiring"; info: AuthenticatedInfo }
  /** The application asked for a refresh. */
  | { kind: "refresh_requested" }
  /** The server did not acknowledge the refresh's `authenticate` in time: another may go. */
  | { kind: "refresh_unanswered" }
  /** The page woke up (visible again, online again). */
  | { kind: "woke_up" }
  | { kind: "token"; reason: TokenReason; token: string }
  | { kind: "token_failed"; reason: TokenReason; message: string }
  /** A timer set by a `set_timer` effect ran out. */
  | { kind: "timer_fired"; timer: Timer; epoch: number }
  /** The application closed the socket. */
  | { kind: "close" };

/** What the glue must do. */
export type Effect =
  /** Ask `getToken`, then feed `token` or `token_failed`. */
  | { kind: "fetch_token"; reason: TokenReason }
  /** Emit `authenticate` with this token. */
  | { kind: "authenticate"; token: string }
  /** Answer the transport's handshake with this token (`auth: { token }`). */
  | { kind: "handshake_token"; token: string }
  /** Open the connection (again); in handshake mode the transport then asks for its token. */
  | { kind: "open" }
  /** Feed `timer_fired` with this timer and epoch after the delay. */
  | { kind: "set_timer"; timer: Timer; delayMs: number; epoch: number }
  /** Close the connection; nothing reconnects. */
  | { kind: "shutdown" };

/** The time, as the machine reads it: passed in, so that tests choose it. */
export interface Now {
  /** This machine's clock, in milliseconds since the epoch. */
  ms: number;
  /** A number in [0, 1) for the backoff's jitter. */
  jitter: number;
}

/** The settings the machine decides with. */
export interface Rules {
  mode: "message" | "handshake";
  /** Refresh before `exp` at all. */
  refresh: boolean;
  /** Refresh this long before `exp` (never later than half the time left). */
  refreshMarginMs: number;
  /** New tokens tried in a row after `token_expired` / `revoked` (0: never). */
  maxRecoveries: number;
  /** Connect again after the server closed the connection. */
  reconnect: boolean;
}

/** One minute, the refresh cap's window. */
const MINUTE_MS = 60_000;

/** The helper's state machine. */
export class Machine {
  readonly #rules: Rules;
  #state: AuthState = "idle";
  #info: AuthenticatedInfo | null = null;
  #lastError: AuthError | null = null;
  /** When the token expires, on this machine's clock (from the server's `expires_in_ms`). */
  #expiresAt: number | null = null;
  /** Recoveries (a new token after a refusal) in a row. */
  #recoveries = 0;
  /** `server_busy` answers and failed opens in a row. */
  #busyAttempts = 0;
  /** The token last sent: what a refusal refers to. */
  #lastToken: string | null = null;
  /** A token fetched after a refusal, for the next connection. */
  #nextToken: string | null = null;
  /** The refusal being recovered from, while the new token is fetched. */
  #recovering: AuthError | null = null;
  /** A refresh token is being fetched or sent; until `authenticated` or a refusal. */
  #refreshing = false;
  /** When the refreshes of the rolling minute started. */
  #refreshTimes: number[] = [];
  /** The namespace connected before (a `reconnect` token from then on). */
  #connectedBefore = false;
  /** The transport waits for a handshake token being fetched. */
  #handshakeWaiting = false;
  /** Bumped whenever pending timers no longer apply. */
  #epoch = 0;

  constructor(rules: Rules) {
    this.#rules = rules;
  }

  get state(): AuthState {
    return this.#state;
  }

  /** What the server confirmed with the last `authenticated`. */
  get info(): AuthenticatedInfo | null {
    return this.#info;
  }

  /** Why the socket was last refused (or, while `waiting`, why it waits). */
  get lastError(): AuthError | null {
    return this.#lastError;
  }

  /** Milliseconds until the token expires, by the server's clock; `null` without an `exp`. */
  remainingMs(nowMs: number): number | null {
    return this.#expiresAt === null ? null : this.#expiresAt - nowMs;
  }

  /** One step: the new state is in {@link state}, the effects are returned. */
  step(input: Input, now: Now): Effect[] {
    if (input.kind === "close") return this.#close();
    if (input.kind === "connect") return this.#connect();
    if (this.#state === "idle") return [];
    if (this.#state === "unauthorized") {
      // Refused for good: a reconnect of the transport is stopped.
      return input.kind === "connected" || input.kind === "connection_lost" || input.kind === "server_closed"
        ? [{ kind: "shutdown" }]
        : [];
    }
    switch (input.kind) {
      case "handshake_auth":
        return this.#handshakeAuth();
      case "connected":
        return this.#connected();
      case "connection_lost":
        this.#notAuthenticated();
        if (this.#state === "authenticating") this.#state = "connecting";
        return [];
      case "server_closed":
        // After `unauthorized`, the recovery under way opens the next connection.
        if (this.#recovering) return [];
        if (this.#rules.reconnect) return this.#busy(now, null);
        this.#notAuthenticated();
        this.#state = "connecting";
        return [];
      case "connect_refused":
        return input.error.code === SERVER_BUSY ? this.#busy(now, input.error) : this.#refused(input.error);
      case "open_failed":
        return this.#busy(now, null);
      case "authenticated":
        return this.#authenticated(input.info, now);
      case "unauthorized":
        return this.#refused(input.error);
      case "token_expiring":
        // The server's clock is the one that counts.
        this.#expiresAt = expiresAt(input.info, now.ms) ?? this.#expiresAt;
        return this.#refresh(now);
      case "refresh_requested":
        return this.#refresh(now);
      case "refresh_unanswered":
        this.#refreshing = false;
        return [];
      case "woke_up": {
        const remaining = this.remainingMs(now.ms);
        return remaining !== null && remaining <= this.#rules.refreshMarginMs ? this.#refresh(now) : [];
      }
      case "timer_fired":
        if (input.epoch !== this.#epoch) return [];
        if (input.timer === "refresh") return this.#refresh(now);
        if (this.#state !== "waiting") return [];
        this.#state = "connecting";
        return this.#open();
      case "token":
        return this.#token(input.reason, input.token);
      case "token_failed":
        return this.#tokenFailed(input.reason, input.message);
    }
  }

  #connect(): Effect[] {
    if (this.#state !== "idle" && this.#state !== "unauthorized") return [];
    this.#lastError = null;
    this.#recoveries = 0;
    this.#recovering = null;
    this.#state = "connecting";
    return this.#open();
  }

  #open(): Effect[] {
    return [{ kind: "open" }];
  }

  /** The transport's handshake: the token fetched after a refusal, else a current one. */
  #handshakeAuth(): Effect[] {
    if (this.#nextToken !== null) return this.#handshakeWith(this.#takeNextToken());
    this.#handshakeWaiting = true;
    return [{ kind: "fetch_token", reason: this.#connectedBefore ? "reconnect" : "connect" }];
  }

  #handshakeWith(token: string): Effect[] {
    this.#handshakeWaiting = false;
    this.#lastToken = token;
    return [{ kind: "handshake_token", token }];
  }

  #takeNextToken(): string {
    const token = this.#nextToken as string;
    this.#nextToken = null;
    return token;
  }

  #connected(): Effect[] {
    const reason: TokenReason = this.#connectedBefore ? "reconnect" : "connect";
    this.#connectedBefore = true;
    this.#notAuthenticated();
    this.#state = "authenticating";
    if (this.#rules.mode === "handshake") return [];
    if (this.#nextToken !== null) return this.#send(this.#takeNextToken());
    return [{ kind: "fetch_token", reason }];
  }

  #send(token: string): Effect[] {
    this.#lastToken = token;
    return [{ kind: "authenticate", token }];
  }

  /** Until the next `authenticated`, its timers and a refresh in flight no longer apply. */
  #notAuthenticated(): void {
    if (this.#state === "authenticated") this.#state = "connecting";
    this.#refreshing = false;
    this.#epoch += 1;
  }

  #authenticated(info: AuthenticatedInfo, now: Now): Effect[] {
    this.#info = info ?? {};
    this.#expiresAt = expiresAt(this.#info, now.ms);
    this.#lastError = null;
    this.#recoveries = 0;
    this.#busyAttempts = 0;
    this.#recovering = null;
    this.#refreshing = false;
    this.#epoch += 1;
    this.#state = "authenticated";
    const remaining = this.remainingMs(now.ms);
    if (!this.#rules.refresh || remaining === null) return [];
    const delayMs = refreshDelayMs({ expires_in_ms: remaining }, this.#rules.refreshMarginMs, now.ms) ?? 0;
    return [{ kind: "set_timer", timer: "refresh", delayMs, epoch: this.#epoch }];
  }

  /**
   * A refresh (timer, `token_expiring`, a wake-up, the application): one at a time, at most
   * {@link MAX_REFRESHES_PER_MINUTE}; when the minute is full, later.
   */
  #refresh(now: Now): Effect[] {
    if (!this.#rules.refresh || this.#state !== "authenticated" || this.#refreshing) return [];
    this.#refreshTimes = this.#refreshTimes.filter((t) => now.ms - t < MINUTE_MS);
    if (this.#refreshTimes.length >= MAX_REFRESHES_PER_MINUTE) {
      const delayMs = MINUTE_MS - (now.ms - this.#refreshTimes[0]);
      return [{ kind: "set_timer", timer: "refresh", delayMs, epoch: this.#epoch }];
    }
    this.#refreshTimes.push(now.ms);
    this.#refreshing = true;
    return [{ kind: "fetch_token", reason: "refresh" }];
  }

  #token(reason: TokenReason, token: string): Effect[] {
    switch (reason) {
      case "refresh":
        return this.#refreshing && this.#state === "authenticated" ? this.#send(token) : [];
      case "expired":
      case "revoked": {
        const refusal = this.#recovering;
        if (!refusal) return [];
        this.#recovering = null;
        // The source gave the refused token again: never retried.
        if (!token || token === this.#lastToken) return this.#refusedForGood(refusal);
        this.#recoveries += 1;
        this.#nextToken = token;
        this.#state = "connecting";
        return this.#open();
      }
      case "connect":
      case "reconnect":
        if (this.#rules.mode === "handshake") return this.#handshakeWaiting ? this.#handshakeWith(token) : [];
        return this.#state === "authenticating" ? this.#send(token) : [];
    }
  }

  #tokenFailed(reason: TokenReason, message: string): Effect[] {
    switch (reason) {
      case "refresh":
        // The refresh did not happen; the next timer or warning tries again.
        this.#refreshing = false;
        return [];
      case "expired":
      case "revoked": {
        const refusal = this.#recovering;
        this.#recovering = null;
        return refusal ? this.#refusedForGood(refusal) : [];
      }
      case "connect":
      case "reconnect":
        this.#handshakeWaiting = false;
        return this.#refusedForGood(new AuthError("credentials_required", `no token: ${message}`));
    }
  }

  /** `unauthorized`, or a refused handshake: a new token when that can help, else the end. */
  #refused(error: AuthError): Effect[] {
    this.#notAuthenticated();
    const allowed = this.#recoveries < this.#rules.maxRecoveries;
    if (!isRecoverable(error.code) || !allowed) return this.#refusedForGood(error);
    this.#recovering = error;
    this.#state = "connecting";
    return [{ kind: "fetch_token", reason: error.code === "revoked" ? "revoked" : "expired" }];
  }

  #refusedForGood(error: AuthError): Effect[] {
    this.#epoch += 1;
    this.#refreshing = false;
    this.#lastError = error;
    this.#state = "unauthorized";
    return [{ kind: "shutdown" }];
  }

  /**
   * `server_busy`, a failed open or the server closing the connection is not a refusal: wait,
   * visibly, then connect again.
   */
  #busy(now: Now, error: AuthError | null): Effect[] {
    this.#notAuthenticated();
    const delayMs = busyBackoffMs(this.#busyAttempts, now.jitter);
    this.#busyAttempts += 1;
    if (error) this.#lastError = error;
    this.#state = "waiting";
    return [{ kind: "set_timer", timer: "busy_retry", delayMs, epoch: this.#epoch }];
  }

  #close(): Effect[] {
    this.#epoch += 1;
    this.#refreshing = false;
    this.#recovering = null;
    this.#handshakeWaiting = false;
    this.#state = "idle";
    return [{ kind: "shutdown" }];
  }
}

/**
 * When a token expires, on this machine's clock: now plus the server's `expires_in_ms` (which no
 * clock skew can bend), else `exp` read against the local clock (servers that do not send it).
 */
function expiresAt(info: AuthenticatedInfo | null | undefined, nowMs: number): number | null {
  const expiresInMs = info?.expires_in_ms;
  if (typeof expiresInMs === "number" && Number.isFinite(expiresInMs)) return nowMs + expiresInMs;
  const exp = info?.exp;
  if (typeof exp === "number" && Number.isFinite(exp)) return exp * 1000;
  return null;
}
