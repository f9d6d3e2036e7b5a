// Generated from the Rust crate socketioxide-jwt-protocol (src/typescript.rs): do not edit.
// Regenerate with `UPDATE_PROTOCOL_TS=1 cargo test -p socketioxide-jwt-protocol --test typescript`.

/** Default event names. */
export const EVENTS = {
  /** client → server: `{ token }` */
  authenticate: "authenticate",
  /** server → client after a successful (re)authentication: `{ sub, exp, expires_in_ms }` */
  authenticated: "authenticated",
  /** server → client with the error object, right before a disconnect */
  unauthorized: "unauthorized",
  /** server → client once per token, shortly before it expires: `{ exp, expires_in_ms }` */
  token_expiring: "token_expiring",
  /** server → client before a room joined with a room token is left: `{ room, expires_in_ms }` */
  room_expiring: "room_expiring",
} as const;

/** The field holding the token, in the `authenticate` payload and in the handshake's `auth`. */
export const TOKEN_FIELD = "token";

/** The fields of the `authenticated` payload (each present when the token has it). */
export const AUTHENTICATED_FIELDS = ["sub", "exp", "expires_in_ms"] as const;

/** The fields of the `token_expiring` payload. */
export const TOKEN_EXPIRING_FIELDS = ["exp", "expires_in_ms"] as const;

/** The ack of a successful `authenticate` (a refused one acks the error object). */
export const AUTHENTICATE_ACK_OK = { ok: true } as const;

/** The contract's error codes, by name. */
export const ErrorCode = {
  CredentialsRequired: "credentials_required",
  CredentialsBadFormat: "credentials_bad_format",
  InvalidToken: "invalid_token",
  TokenExpired: "token_expired",
  Timeout: "timeout",
  Revoked: "revoked",
  Forbidden: "forbidden",
} as const;
/** One of the contract's error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every error code of the contract, in the order of its table. */
export const ERROR_CODES = ["credentials_required", "credentials_bad_format", "invalid_token", "token_expired", "timeout", "revoked", "forbidden"] as const;

/** Codes after which a new token may succeed where the refused one cannot: the helper asks for a new token (never retrying the refused one) before it reconnects. */
export const RECOVERABLE_CODES = ["token_expired", "revoked"] as const;

/** The `type` of every error object. */
export const ERROR_TYPE = "UnauthorizedError";

/** The server's default message for each code (the server may send a more specific one). */
export const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  credentials_required: "no token was provided",
  credentials_bad_format: "the token must be a string of the form header.payload.signature",
  invalid_token: "the token is invalid",
  token_expired: "the token has expired",
  timeout: "authentication timed out",
  revoked: "the token has been revoked",
  forbidden: "access is forbidden",
};

/** The `connect_error` message of a connection refused because too many sockets are waiting to authenticate (not an authentication failure: retry later). */
export const SERVER_BUSY = "server_busy";

/** The shortest delay before a scheduled refresh. */
export const MIN_REFRESH_DELAY_MS = 500;

/** At most this many refreshes in a rolling minute, below the server's own limit: whatever the clocks say, the helper never refreshes itself into a `forbidden`. */
export const MAX_REFRESHES_PER_MINUTE = 8;

/** The first delay after `server_busy` (with full jitter, from half of it). */
export const BUSY_BACKOFF_MIN_MS = 1000;

/** The longest delay after `server_busy`. */
export const BUSY_BACKOFF_MAX_MS = 30_000;

/** Default: refresh this long before `exp` (never later than half the time left). */
export const DEFAULT_REFRESH_MARGIN_MS = 60_000;

/** Default: new tokens tried in a row after `token_expired` / `revoked`. */
export const DEFAULT_MAX_RECOVERIES = 3;

/** Default: how long a refresh waits for the server's ack. */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/** The shape of a code: a `connect_error` message without it is another server's words, read as `invalid_token`. */
export const CODE_SHAPE = /^[a-z][a-z0-9_]{0,63}$/;

/** Whether `code` is one of the contract's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);
}

/** Whether a new token may succeed where the refused one cannot. */
export function isRecoverable(code: string): boolean {
  return (RECOVERABLE_CODES as readonly string[]).includes(code);
}
