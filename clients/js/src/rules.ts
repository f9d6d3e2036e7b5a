/**
 * The helper's decisions, as pure functions of their inputs (the time passed in): when to
 * refresh, how long to wait after `server_busy`, what a refusal says. The same rules as the Rust
 * client's `machine.rs`, both tested against one table (`protocol/scenarios.json`).
 */
import { AuthError } from "./errors.js";
import { BUSY_BACKOFF_MAX_MS, BUSY_BACKOFF_MIN_MS, MIN_REFRESH_DELAY_MS } from "./protocol.js";

/**
 * When to refresh: `marginMs` before expiry, never later than half the time left, never sooner
 * than {@link MIN_REFRESH_DELAY_MS}. The time left is the server's (`expires_in_ms`), which no
 * clock skew can bend; `exp` against `nowMs` only for servers that do not send it. `null`
 * without either.
 */
export function refreshDelayMs(
  info: { exp?: unknown; expires_in_ms?: unknown },
  marginMs: number,
  nowMs: number,
): number | null {
  let remaining: number;
  if (typeof info.expires_in_ms === "number" && Number.isFinite(info.expires_in_ms)) {
    remaining = info.expires_in_ms;
  } else if (typeof info.exp === "number" && Number.isFinite(info.exp)) {
    remaining = Math.max(0, info.exp * 1000 - nowMs);
  } else {
    return null;
  }
  return Math.max(remaining - marginMs, remaining / 2, MIN_REFRESH_DELAY_MS);
}

/**
 * The delay before try `attempt` (0, 1, ...) after `server_busy`: exponential with full jitter
 * (`jitter` in [0, 1)), between half the first delay and the ceiling.
 */
export function busyBackoffMs(attempt: number, jitter: number): number {
  const ceiling = Math.min(BUSY_BACKOFF_MAX_MS, BUSY_BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
  const floor = BUSY_BACKOFF_MIN_MS / 2;
  return floor + Math.min(Math.max(jitter, 0), 1) * (ceiling - floor);
}

/**
 * An `unauthorized` payload as an error: the contract's error object, else (no code to read) a
 * refusal all the same, with `invalid_token`.
 */
export function refusalFrom(payload: unknown): AuthError {
  return AuthError.fromObject(payload) ?? new AuthError("invalid_token", "the server refused without a readable reason");
}
