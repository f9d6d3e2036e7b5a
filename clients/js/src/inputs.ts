/**
 * What the helper's machine (`state-machine.ts`) works with: its states, what it hears
 * ({@link Input}), what it asks the glue to do ({@link Effect}), the time it reads and its rules.
 */
import type { AuthError } from "./errors.js";

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
  /** `getToken` answered the request `id` (a `fetch_token` effect's). */
  | { kind: "token"; reason: TokenReason; id: number; token: string }
  | { kind: "token_failed"; reason: TokenReason; id: number; message: string }
  /** A timer set by a `set_timer` effect ran out. */
  | { kind: "timer_fired"; timer: Timer; epoch: number }
  /** The application closed the socket. */
  | { kind: "close" };

/** What the glue must do. */
export type Effect =
  /** Ask `getToken`, then feed `token` or `token_failed` with this `id`. */
  | { kind: "fetch_token"; reason: TokenReason; id: number }
  /** Emit `authenticate` with this token. */
  | { kind: "authenticate"; token: string }
  /** Emit `authenticate` with this fresh token and wait (bounded) for its ack: feed
   * `refresh_unanswered` if none comes. */
  | { kind: "send_refresh"; token: string }
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
