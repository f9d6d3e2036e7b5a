//! The TypeScript module of these definitions: what `clients/js/src/protocol.ts` is, generated
//! (a test regenerates it and fails on any difference: no copy to keep in step by hand).

use std::fmt::Write;
use std::time::Duration;

use crate::codes::{ErrorCode, MAX_CUSTOM_CODE_LEN};
use crate::names::{
    ERROR_TYPE, EVENT_AUTHENTICATE, EVENT_AUTHENTICATED, EVENT_ROOM_EXPIRING, EVENT_TOKEN_EXPIRING,
    EVENT_UNAUTHORIZED, SERVER_BUSY, TOKEN_FIELD,
};
use crate::payloads::{AUTHENTICATED_FIELDS, TOKEN_EXPIRING_FIELDS};
use crate::rules;

/// The command that writes the module (the test that checks it, told to write).
pub const REGENERATE: &str =
    "UPDATE_PROTOCOL_TS=1 cargo test -p socketioxide-jwt-protocol --test typescript";

/// The TypeScript module: every name, code, payload field and client rule constant of this
/// crate, as `clients/js/src/protocol.ts` holds them.
///
/// # Example
/// ```
/// let ts = socketioxide_jwt_protocol::typescript::module();
/// assert!(ts.contains(r#"export const SERVER_BUSY = "server_busy";"#));
/// ```
pub fn module() -> String {
    let mut ts = String::new();
    let mut line = |text: &str| {
        ts.push_str(text);
        ts.push('\n');
    };
    line("// Generated from the Rust crate socketioxide-jwt-protocol (src/typescript.rs): do not edit.");
    line(&format!("// Regenerate with `{REGENERATE}`."));
    line("");
    line("/** Default event names. */");
    line("export const EVENTS = {");
    for (name, doc) in [
        (EVENT_AUTHENTICATE, "client → server: `{ token }`"),
        (EVENT_AUTHENTICATED, "server → client after a successful (re)authentication: `{ sub, exp, expires_in_ms }`"),
        (EVENT_UNAUTHORIZED, "server → client with the error object, right before a disconnect"),
        (EVENT_TOKEN_EXPIRING, "server → client once per token, shortly before it expires: `{ exp, expires_in_ms }`"),
        (EVENT_ROOM_EXPIRING, "server → client before a room joined with a room token is left: `{ room, expires_in_ms }`"),
    ] {
        line(&format!("  /** {doc} */"));
        line(&format!("  {name}: {},", quoted(name)));
    }
    line("} as const;");
    line("");
    constant(
        &mut line,
        "The field holding the token, in the `authenticate` payload and in the handshake's `auth`.",
        "TOKEN_FIELD",
        &quoted(TOKEN_FIELD),
    );
    constant(
        &mut line,
        "The fields of the `authenticated` payload (each present when the token has it).",
        "AUTHENTICATED_FIELDS",
        &list(AUTHENTICATED_FIELDS),
    );
    constant(
        &mut line,
        "The fields of the `token_expiring` payload.",
        "TOKEN_EXPIRING_FIELDS",
        &list(TOKEN_EXPIRING_FIELDS),
    );
    constant(
        &mut line,
        "The ack of a successful `authenticate` (a refused one acks the error object).",
        "AUTHENTICATE_ACK_OK",
        "{ ok: true } as const",
    );
    line("/** The contract's error codes, by name. */");
    line("export const ErrorCode = {");
    for code in ErrorCode::ALL {
        line(&format!("  {}: {},", variant(code), quoted(code.as_str())));
    }
    line("} as const;");
    line("/** One of the contract's error codes. */");
    line("export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];");
    line("");
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    constant(
        &mut line,
        "Every error code of the contract, in the order of its table.",
        "ERROR_CODES",
        &list(&all),
    );
    let recoverable: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| c.is_recoverable())
        .map(|c| c.as_str())
        .collect();
    constant(&mut line, "Codes after which a new token may succeed where the refused one cannot: the helper asks for a new token (never retrying the refused one) before it reconnects.", "RECOVERABLE_CODES", &list(&recoverable));
    constant(
        &mut line,
        "The `type` of every error object.",
        "ERROR_TYPE",
        &quoted(ERROR_TYPE),
    );
    line("/** The server's default message for each code (the server may send a more specific one). */");
    line("export const DEFAULT_MESSAGES: Record<ErrorCode, string> = {");
    for code in ErrorCode::ALL {
        line(&format!(
            "  {}: {},",
            code.as_str(),
            quoted(code.default_message())
        ));
    }
    line("};");
    line("");
    constant(&mut line, "The `connect_error` message of a connection refused because too many sockets are waiting to authenticate (not an authentication failure: retry later).", "SERVER_BUSY", &quoted(SERVER_BUSY));
    constant(
        &mut line,
        "The shortest delay before a scheduled refresh.",
        "MIN_REFRESH_DELAY_MS",
        &millis(rules::MIN_REFRESH_DELAY),
    );
    constant(&mut line, "At most this many refreshes in a rolling minute, below the server's own limit: whatever the clocks say, the helper never refreshes itself into a `forbidden`.", "MAX_REFRESHES_PER_MINUTE", &rules::MAX_REFRESHES_PER_MINUTE.to_string());
    constant(
        &mut line,
        "The first delay after `server_busy` (with full jitter, from half of it).",
        "BUSY_BACKOFF_MIN_MS",
        &millis(rules::BUSY_BACKOFF_MIN),
    );
    constant(
        &mut line,
        "The longest delay after `server_busy`.",
        "BUSY_BACKOFF_MAX_MS",
        &millis(rules::BUSY_BACKOFF_MAX),
    );
    constant(
        &mut line,
        "Default: refresh this long before `exp` (never later than half the time left).",
        "DEFAULT_REFRESH_MARGIN_MS",
        &millis(rules::DEFAULT_REFRESH_MARGIN),
    );
    constant(
        &mut line,
        "Default: new tokens tried in a row after `token_expired` / `revoked`.",
        "DEFAULT_MAX_RECOVERIES",
        &rules::DEFAULT_MAX_RECOVERIES.to_string(),
    );
    constant(
        &mut line,
        "Default: how long a refresh waits for the server's ack.",
        "DEFAULT_ACK_TIMEOUT_MS",
        &millis(rules::DEFAULT_ACK_TIMEOUT),
    );
    constant(&mut line, "The shape of a code: a `connect_error` message without it is another server's words, read as `invalid_token`.", "CODE_SHAPE", &format!("/^[a-z][a-z0-9_]{{0,{}}}$/", MAX_CUSTOM_CODE_LEN - 1));
    line("/** Whether `code` is one of the contract's codes. */");
    line("export function isErrorCode(code: unknown): code is ErrorCode {");
    line(
        "  return typeof code === \"string\" && (ERROR_CODES as readonly string[]).includes(code);",
    );
    line("}");
    line("");
    line("/** Whether a new token may succeed where the refused one cannot. */");
    line("export function isRecoverable(code: string): boolean {");
    line("  return (RECOVERABLE_CODES as readonly string[]).includes(code);");
    line("}");
    ts
}

fn constant(line: &mut impl FnMut(&str), doc: &str, name: &str, value: &str) {
    line(&format!("/** {doc} */"));
    line(&format!("export const {name} = {value};"));
    line("");
}

/// A JSON string is a TypeScript string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}] as const", items.join(", "))
}

fn millis(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 10_000 {
        // 30000 → 30_000, as the code around it writes numbers.
        let s = ms.to_string();
        let (head, tail) = s.split_at(s.len() - 3);
        format!("{head}_{tail}")
    } else {
        ms.to_string()
    }
}

/// The name of a code in the generated `ErrorCode` object.
fn variant(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::CredentialsRequired => "CredentialsRequired",
        ErrorCode::CredentialsBadFormat => "CredentialsBadFormat",
        ErrorCode::InvalidToken => "InvalidToken",
        ErrorCode::TokenExpired => "TokenExpired",
        ErrorCode::Timeout => "Timeout",
        ErrorCode::Revoked => "Revoked",
        ErrorCode::Forbidden => "Forbidden",
        ErrorCode::Custom(_) => "Custom",
    }
}
