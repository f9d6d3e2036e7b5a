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
    let mut ts = Module::default();
    ts.line("// Generated from the Rust crate socketioxide-jwt-protocol (src/typescript.rs): do not edit.");
    ts.line(&format!("// Regenerate with `{REGENERATE}`."));
    ts.line("");
    events(&mut ts);
    payloads(&mut ts);
    codes(&mut ts);
    client_rules(&mut ts);
    ts.0
}

/// The module being written, a line at a time.
#[derive(Default)]
struct Module(String);

impl Module {
    fn line(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push('\n');
    }

    fn constant(&mut self, doc: &str, name: &str, value: &str) {
        self.line(&format!("/** {doc} */"));
        self.line(&format!("export const {name} = {value};"));
        self.line("");
    }
}

fn events(ts: &mut Module) {
    ts.line("/** Default event names. */");
    ts.line("export const EVENTS = {");
    for (name, doc) in [
        (EVENT_AUTHENTICATE, "client → server: `{ token }`"),
        (EVENT_AUTHENTICATED, "server → client after a successful (re)authentication: `{ sub, exp, expires_in_ms }`"),
        (EVENT_UNAUTHORIZED, "server → client with the error object, right before a disconnect"),
        (EVENT_TOKEN_EXPIRING, "server → client once per token, shortly before it expires: `{ exp, expires_in_ms }`"),
        (EVENT_ROOM_EXPIRING, "server → client before a room joined with a room token is left: `{ room, expires_in_ms }`"),
    ] {
        ts.line(&format!("  /** {doc} */"));
        ts.line(&format!("  {name}: {},", quoted(name)));
    }
    ts.line("} as const;");
    ts.line("");
}

fn payloads(ts: &mut Module) {
    ts.constant(
        "The field holding the token, in the `authenticate` payload and in the handshake's `auth`.",
        "TOKEN_FIELD",
        &quoted(TOKEN_FIELD),
    );
    ts.constant(
        "The fields of the `authenticated` payload (each present when the token has it).",
        "AUTHENTICATED_FIELDS",
        &list(AUTHENTICATED_FIELDS),
    );
    ts.constant(
        "The fields of the `token_expiring` payload.",
        "TOKEN_EXPIRING_FIELDS",
        &list(TOKEN_EXPIRING_FIELDS),
    );
    ts.constant(
        "The ack of a successful `authenticate` (a refused one acks the error object).",
        "AUTHENTICATE_ACK_OK",
        "{ ok: true } as const",
    );
}

fn codes(ts: &mut Module) {
    ts.line("/** The contract's error codes, by name. */");
    ts.line("export const ErrorCode = {");
    for code in ErrorCode::ALL {
        ts.line(&format!("  {}: {},", variant(code), quoted(code.as_str())));
    }
    ts.line("} as const;");
    ts.line("/** One of the contract's error codes. */");
    ts.line("export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];");
    ts.line("");
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    ts.constant(
        "Every error code of the contract, in the order of its table.",
        "ERROR_CODES",
        &list(&all),
    );
    let recoverable: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| c.is_recoverable())
        .map(|c| c.as_str())
        .collect();
    ts.constant(
        "Codes after which a new token may succeed where the refused one cannot: the helper asks for a new token (never retrying the refused one) before it reconnects.",
        "RECOVERABLE_CODES",
        &list(&recoverable),
    );
    ts.constant(
        "The `type` of every error object.",
        "ERROR_TYPE",
        &quoted(ERROR_TYPE),
    );
    ts.line("/** The server's default message for each code (the server may send a more specific one). */");
    ts.line("export const DEFAULT_MESSAGES: Record<ErrorCode, string> = {");
    for code in ErrorCode::ALL {
        ts.line(&format!(
            "  {}: {},",
            code.as_str(),
            quoted(code.default_message())
        ));
    }
    ts.line("};");
    ts.line("");
    ts.constant(
        "The `connect_error` message of a connection refused because too many sockets are waiting to authenticate (not an authentication failure: retry later).",
        "SERVER_BUSY",
        &quoted(SERVER_BUSY),
    );
}

fn client_rules(ts: &mut Module) {
    for (doc, name, value) in [
        ("The shortest delay before a scheduled refresh.", "MIN_REFRESH_DELAY_MS", millis(rules::MIN_REFRESH_DELAY)),
        ("At most this many refreshes in a rolling minute, below the server's own limit: whatever the clocks say, the helper never refreshes itself into a `forbidden`.", "MAX_REFRESHES_PER_MINUTE", rules::MAX_REFRESHES_PER_MINUTE.to_string()),
        ("The first delay after `server_busy` (with full jitter, from half of it).", "BUSY_BACKOFF_MIN_MS", millis(rules::BUSY_BACKOFF_MIN)),
        ("The longest delay after `server_busy`.", "BUSY_BACKOFF_MAX_MS", millis(rules::BUSY_BACKOFF_MAX)),
        ("Default: refresh this long before `exp` (never later than half the time left).", "DEFAULT_REFRESH_MARGIN_MS", millis(rules::DEFAULT_REFRESH_MARGIN)),
        ("Default: new tokens tried in a row after `token_expired` / `revoked`.", "DEFAULT_MAX_RECOVERIES", rules::DEFAULT_MAX_RECOVERIES.to_string()),
        ("Default: how long a refresh waits for the server's ack.", "DEFAULT_ACK_TIMEOUT_MS", millis(rules::DEFAULT_ACK_TIMEOUT)),
        ("The shape of a code: a `connect_error` message without it is another server's words, read as `invalid_token`.", "CODE_SHAPE", format!("/^[a-z][a-z0-9_]{{0,{}}}$/", MAX_CUSTOM_CODE_LEN - 1)),
    ] {
        ts.constant(doc, name, &value);
    }
    ts.line("/** Whether `code` is one of the contract's codes. */");
    ts.line("export function isErrorCode(code: unknown): code is ErrorCode {");
    ts.line(
        "  return typeof code === \"string\" && (ERROR_CODES as readonly string[]).includes(code);",
    );
    ts.line("}");
    ts.line("");
    ts.line("/** Whether a new token may succeed where the refused one cannot. */");
    ts.line("export function isRecoverable(code: string): boolean {");
    ts.line("  return (RECOVERABLE_CODES as readonly string[]).includes(code);");
    ts.line("}");
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
