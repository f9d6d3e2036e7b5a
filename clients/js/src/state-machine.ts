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
import type { AuthenticatedInfo, AuthState, Effect, Input, Now, Rules, Timer, TokenReason } from "./inputs.js";
import { MAX_REFRESHES_PER_MINUTE, SERVER_BUSY, isRecoverable } from "./protocol.js";
import { busyBackoffMs, refreshDelayMs } from "./rules.js";

/** One minute, the refresh cap's window. */
const MINUTE_MS = 60_000;

/** Token requests answer one of two questions: a token for the connection, or for a refresh. */
type Slot = "connection" | "refresh";

function slotOf(reason: TokenReason): Slot {
  return reason === "refresh" ? "refresh" : "connection";
}

/** The helper's state machine. */
export class Machine {
  readonly #rules: Rules;
  #state: AuthState = "idle";
  #info: AuthenticatedInfo | null = null;
  #lastError: AuthError | null = null;
  /** When the token expires, on this machine's clock (from the server's `expires_in_ms`). */
  #expiresAt: number | null = null;
  /** When the socket last authenticated (a connection the server closes soon after is a kick). */
  #authenticatedAt: number | null = null;
  /** Recoveries (a new token after a refusal) in a row. */
  #recoveries = 0;
  /** `server_busy` answers and failed opens in a row. */
  #busyAttempts = 0;
  /** The server closing short-lived connections, in a row. */
  #serverCloses = 0;
  /** Refreshes that failed (no token, no answer) in a row. */
  #refreshFailures = 0;
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
  /** The namespace is connected now (and the server has not refused on it). */
  #connected = false;
  /** The transport waits for a handshake token being fetched. */
  #handshakeWaiting = false;
  /** The token requests whose answer is awaited, by slot: any other answer is stale. */
  readonly #awaiting = new Map<Slot, number>();
  #requests = 0;
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
        return this.#connectedNow();
      case "connection_lost":
        return this.#lost();
      case "server_closed":
        return this.#serverClosed(now);
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
        return this.#refresh(now, true);
      case "refresh_requested":
        return this.#refresh(now, false);
      case "refresh_unanswered":
        return this.#refreshFailed(now);
      case "woke_up": {
        const remaining = this.remainingMs(now.ms);
        return remaining !== null && remaining <= this.#rules.refreshMarginMs ? this.#refresh(now, true) : [];
      }
      case "timer_fired":
        return this.#timerFired(input.timer, input.epoch, now);
      case "token":
      case "token_failed":
        if (this.#awaiting.get(slotOf(input.reason)) !== input.id) return []; // stale
        this.#awaiting.delete(slotOf(input.reason));
        return input.kind === "token"
          ? this.#token(input.reason, input.token)
          : this.#tokenFailed(input.reason, input.message, now);
    }
  }

  #connect(): Effect[] {
    if (this.#state !== "idle" && this.#state !== "unauthorized") return [];
    this.#lastError = null;
    this.#recoveries = 0;
    this.#state = "connecting";
    return [{ kind: "open" }];
  }

  #fetch(reason: TokenReason): Effect[] {
    this.#requests += 1;
    this.#awaiting.set(slotOf(reason), this.#requests);
    return [{ kind: "fetch_token", reason, id: this.#requests }];
  }

  /** The transport's handshake: the token fetched after a refusal, else a current one. */
  #handshakeAuth(): Effect[] {
    if (this.#nextToken !== null) return this.#handshakeWith(this.#takeNextToken());
    this.#handshakeWaiting = true;
    // After a refusal, the handshake waits for the new token: the current one is the refused.
    if (this.#recovering) return [];
    return this.#fetch(this.#connectedBefore ? "reconnect" : "connect");
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

  #connectedNow(): Effect[] {
    const reason: TokenReason = this.#connectedBefore ? "reconnect" : "connect";
    this.#connectedBefore = true;
    this.#connected = true;
    this.#notAuthenticated();
    this.#state = "authenticating";
    if (this.#rules.mode === "handshake") return [];
    if (this.#nextToken !== null) return this.#send(this.#takeNextToken());
    // After a refusal, the new token goes on this connection once fetched.
    if (this.#recovering) return [];
    return this.#fetch(reason);
  }

  #send(token: string): Effect[] {
    this.#lastToken = token;
    return [{ kind: "authenticate", token }];
  }

  /** The transport lost the connection and reconnects by itself. */
  #lost(): Effect[] {
    this.#connected = false;
    // Waiting out a busy server: its timer still stands.
    if (this.#state === "waiting") return [];
    this.#notAuthenticated();
    if (this.#state === "authenticating") this.#state = "connecting";
    return [];
  }

  /**
   * The server closed the connection without `unauthorized` (a restart, the application's own
   * disconnect): connect again after a backoff that grows while the server keeps closing
   * connections soon after they authenticate (a kick is not answered by a reconnect a second).
   */
  #serverClosed(now: Now): Effect[] {
    this.#connected = false;
    // After `unauthorized`, the recovery under way opens the next connection.
    if (this.#recovering) return [];
    if (!this.#rules.reconnect) {
      this.#notAuthenticated();
      this.#state = "connecting";
      return [];
    }
    const lived = this.#authenticatedAt === null ? 0 : now.ms - this.#authenticatedAt;
    if (lived >= MINUTE_MS) this.#serverCloses = 0;
    const attempt = this.#serverCloses;
    this.#serverCloses += 1;
    return this.#wait(now, attempt, null);
  }

  /** Until the next `authenticated`, its timers and a refresh in flight no longer apply. */
  #notAuthenticated(): void {
    if (this.#state === "authenticated") this.#state = "connecting";
    this.#refreshing = false;
    this.#awaiting.delete("refresh");
    this.#epoch += 1;
  }

  #authenticated(info: AuthenticatedInfo, now: Now): Effect[] {
    this.#info = info ?? {};
    this.#expiresAt = expiresAt(this.#info, now.ms);
    this.#authenticatedAt = now.ms;
    this.#lastError = null;
    this.#recoveries = 0;
    this.#busyAttempts = 0;
    this.#refreshFailures = 0;
    this.#recovering = null;
    this.#refreshing = false;
    this.#epoch += 1;
    this.#state = "authenticated";
    const remaining = this.remainingMs(now.ms);
    if (!this.#rules.refresh || remaining === null) return [];
    const delayMs = refreshDelayMs({ expires_in_ms: remaining }, this.#rules.refreshMarginMs, now.ms) ?? 0;
    return [{ kind: "set_timer", timer: "refresh", delayMs, epoch: this.#epoch }];
  }

  #timerFired(timer: Timer, epoch: number, now: Now): Effect[] {
    if (epoch !== this.#epoch) return [];
    if (timer === "refresh") return this.#refresh(now, true);
    if (this.#state !== "waiting") return [];
    this.#state = "connecting";
    return [{ kind: "open" }];
  }

  /**
   * A refresh (timer, `token_expiring`, a wake-up: `automatic`; or the application's): one at a
   * time, at most {@link MAX_REFRESHES_PER_MINUTE}; when the minute is full, later.
   */
  #refresh(now: Now, automatic: boolean): Effect[] {
    if (automatic && !this.#rules.refresh) return [];
    if (this.#state !== "authenticated" || this.#refreshing) return [];
    this.#refreshTimes = this.#refreshTimes.filter((t) => now.ms - t < MINUTE_MS);
    if (this.#refreshTimes.length >= MAX_REFRESHES_PER_MINUTE) {
      const delayMs = MINUTE_MS - (now.ms - this.#refreshTimes[0]);
      return [{ kind: "set_timer", timer: "refresh", delayMs, epoch: this.#epoch }];
    }
    this.#refreshTimes.push(now.ms);
    this.#refreshing = true;
    return this.#fetch("refresh");
  }

  /** A refresh that got no token or no answer: tried again after a backoff, while connected. */
  #refreshFailed(now: Now): Effect[] {
    if (this.#state !== "authenticated" || !this.#refreshing) return [];
    this.#refreshing = false;
    this.#awaiting.delete("refresh");
    const delayMs = busyBackoffMs(this.#refreshFailures, now.jitter);
    this.#refreshFailures += 1;
    return [{ kind: "set_timer", timer: "refresh", delayMs, epoch: this.#epoch }];
  }

  #token(reason: TokenReason, token: string): Effect[] {
    switch (reason) {
      case "refresh":
        if (!this.#refreshing || this.#state !== "authenticated") return [];
        this.#lastToken = token;
        return [{ kind: "send_refresh", token }];
      case "expired":
      case "revoked":
        return this.#recovered(token);
      case "connect":
      case "reconnect":
        if (this.#rules.mode === "handshake") return this.#handshakeWaiting ? this.#handshakeWith(token) : [];
        return this.#state === "authenticating" ? this.#send(token) : [];
    }
  }

  /** The new token after a refusal: on the connection the transport made meanwhile, or a new one. */
  #recovered(token: string): Effect[] {
    const refusal = this.#recovering;
    if (!refusal) return [];
    this.#recovering = null;
    // The source gave the refused token again: never retried.
    if (!token || token === this.#lastToken) return this.#refusedForGood(refusal);
    this.#recoveries += 1;
    if (this.#rules.mode === "handshake" && this.#handshakeWaiting) return this.#handshakeWith(token);
    if (this.#rules.mode === "message" && this.#connected && this.#state === "authenticating") return this.#send(token);
    this.#nextToken = token;
    this.#state = "connecting";
    return [{ kind: "open" }];
  }

  #tokenFailed(reason: TokenReason, message: string, now: Now): Effect[] {
    switch (reason) {
      case "refresh":
        return this.#refreshFailed(now);
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
    // The server closes the connection it refused on.
    this.#connected = false;
    const allowed = this.#recoveries < this.#rules.maxRecoveries;
    if (!isRecoverable(error.code) || !allowed) return this.#refusedForGood(error);
    this.#recovering = error;
    this.#state = "connecting";
    return this.#fetch(error.code === "revoked" ? "revoked" : "expired");
  }

  #refusedForGood(error: AuthError): Effect[] {
    this.#epoch += 1;
    this.#refreshing = false;
    this.#awaiting.clear();
    this.#lastError = error;
    this.#state = "unauthorized";
    return [{ kind: "shutdown" }];
  }

  /**
   * `server_busy` or a failed open is not a refusal: wait, visibly, then connect again.
   */
  #busy(now: Now, error: AuthError | null): Effect[] {
    const attempt = this.#busyAttempts;
    this.#busyAttempts += 1;
    return this.#wait(now, attempt, error);
  }

  #wait(now: Now, attempt: number, error: AuthError | null): Effect[] {
    this.#notAuthenticated();
    this.#connected = false;
    const delayMs = busyBackoffMs(attempt, now.jitter);
    if (error) this.#lastError = error;
    this.#state = "waiting";
    return [{ kind: "set_timer", timer: "busy_retry", delayMs, epoch: this.#epoch }];
  }

  /** Closed by the application: nothing asked or fetched before applies after a new `connect`. */
  #close(): Effect[] {
    this.#epoch += 1;
    this.#refreshing = false;
    this.#recovering = null;
    this.#nextToken = null;
    this.#handshakeWaiting = false;
    this.#connected = false;
    this.#awaiting.clear();
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
