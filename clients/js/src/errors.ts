import { CODE_SHAPE, DEFAULT_MESSAGES, ERROR_TYPE, SERVER_BUSY, isErrorCode, type ErrorCode } from "./protocol.js";

/** The error object of the wire contract, as the server sends it. */
export interface ErrorObject {
  message: string;
  code: string;
  type: typeof ERROR_TYPE;
  data: { message: string; code: string; type: typeof ERROR_TYPE };
}

/**
 * An authentication failure. Carries the contract's fields (`code`, `type`, `data`), in both
 * modes: in handshake mode it is rebuilt from the `connect_error` message, which is the code.
 */
export class AuthError extends Error implements ErrorObject {
  readonly code: ErrorCode | string;
  readonly type = ERROR_TYPE;
  readonly data: ErrorObject["data"];

  constructor(code: ErrorCode | string, message?: string) {
    const text = message ?? (isErrorCode(code) ? DEFAULT_MESSAGES[code] : code);
    super(text);
    this.name = "AuthError";
    this.code = code;
    this.data = { message: text, code, type: ERROR_TYPE };
  }

  /** From an `unauthorized` payload or an error ack; `null` if `value` is not an error object. */
  static fromObject(value: unknown): AuthError | null {
    if (typeof value !== "object" || value === null) return null;
    const v = value as { code?: unknown; message?: unknown; data?: { code?: unknown } };
    // The code at the top, else under `data` (as the Rust client reads it).
    const code = typeof v.code === "string" ? v.code : v.data?.code;
    if (typeof code !== "string") return null;
    const message = typeof v.message === "string" ? v.message : undefined;
    return new AuthError(code, message);
  }

  /**
   * From a handshake-mode `connect_error`, whose message is the code. A refusal by the server
   * (socket.io-client gives those errors a `data` property, even an empty one) with a code this
   * helper does not know (an application's own, from `AuthError::custom`) is a refusal all the
   * same, final as the contract says; a message that is not shaped like a code (another
   * server's words) is read as `invalid_token`. `null` for other connection errors (network
   * failures, a proxy's error page), which are not refusals.
   */
  static fromConnectError(err: { message?: unknown; data?: unknown }): AuthError | null {
    // Only the server's refusals: socket.io-client's own errors ("timeout" when the connection
    // could not be opened in time, transport errors) carry no `data` and are retried.
    const fromServer = typeof err === "object" && err !== null && Object.prototype.hasOwnProperty.call(err, "data");
    if (!fromServer) return null;
    if (err.message === SERVER_BUSY) return new AuthError(SERVER_BUSY, "the server is busy; retry later");
    // The contract's error object under `data`, when the server sent one: its code wins.
    const inData = AuthError.fromObject(err.data);
    if (inData) return inData;
    if (isErrorCode(err.message)) return new AuthError(err.message);
    const message = typeof err.message === "string" ? err.message : "";
    if (CODE_SHAPE.test(message)) {
      const data = err.data as { message?: unknown } | undefined;
      return new AuthError(message, typeof data?.message === "string" ? data.message : undefined);
    }
    // Another server's words ("Not authorized"): a refusal all the same, final.
    return new AuthError("invalid_token", message || "the server refused without a readable reason");
  }

  /** The plain error object (what the server sent). */
  toJSON(): ErrorObject {
    return { message: this.message, code: this.code, type: this.type, data: { ...this.data } };
  }
}
