/**
 * Protocol constants, mirroring the Rust crate (`socketioxide_jwt::protocol`): every wire name
 * and payload shape this client relies on. A test on the Rust side compares the two.
 */

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
} as const;

/** The field holding the token, in the `authenticate` payload and in the handshake's `auth`. */
export const TOKEN_FIELD = "token";

/** The fields of the `authenticated` payload (each present when the token has it). */
export const AUTHENTICATED_FIELDS = ["sub", "exp", "expires_in_ms"] as const;

/** The fields of the `token_expiring` payload. */
export const TOKEN_EXPIRING_FIELDS = ["exp", "expires_in_ms"] as const;

/**
 * Codes after which a new token may succeed where the refused one cannot: the helper asks for a
 * new token (never retrying the refused one) before it reconnects.
 */
export const RECOVERABLE_CODES = ["token_expired", "revoked"] as const;

/** The ack of a successful `authenticate` (a refused one acks the error object). */
export const AUTHENTICATE_ACK_OK = { ok: true } as const;

/** Every error code of the wire contract. */
export const ERROR_CODES = [
  "credentials_required",
  "credentials_bad_format",
  "invalid_token",
  "token_expired",
  "timeout",
  "revoked",
  "forbidden",
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

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

/**
 * The `connect_error` message of a connection refused because too many sockets are waiting to
 * authenticate (not an authentication failure: retry later).
 */
export const SERVER_BUSY = "server_busy";

/** Whether `code` is one of the contract's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);
}
