//! The clients' protocol constants (clients/js/src/protocol.ts, socketioxide_jwt_client::protocol)
//! mirror the server crate's `protocol` module: every wire name and payload shape.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use socketioxide_jwt::protocol::{self, ERROR_TYPE};
use socketioxide_jwt::ErrorCode;

#[test]
fn js_constants_match_the_rust_ones() {
    let module = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/js/dist/protocol.js");
    assert!(
        module.exists(),
        "{} is missing: build the JS client (`npm ci && npm run build` in clients/js; scripts/test.sh does)",
        module.display()
    );
    let script = format!(
        "import * as p from {:?}; console.log(JSON.stringify({{ events: p.EVENTS, token: p.TOKEN_FIELD, authenticated: p.AUTHENTICATED_FIELDS, expiring: p.TOKEN_EXPIRING_FIELDS, ack: p.AUTHENTICATE_ACK_OK, codes: p.ERROR_CODES, type: p.ERROR_TYPE, messages: p.DEFAULT_MESSAGES, busy: p.SERVER_BUSY }}));",
        format!("file://{}", module.display())
    );
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let js: Value = serde_json::from_slice(&out.stdout).expect("json from node");

    assert_eq!(
        js["events"],
        json!({
            "authenticate": protocol::EVENT_AUTHENTICATE,
            "authenticated": protocol::EVENT_AUTHENTICATED,
            "unauthorized": protocol::EVENT_UNAUTHORIZED,
            "token_expiring": protocol::EVENT_TOKEN_EXPIRING,
        })
    );
    assert_eq!(js["token"], protocol::TOKEN_FIELD);
    // The payload shapes, as the server serializes them.
    let authenticated = serde_json::to_value(
        protocol::AuthenticatedPayload::new(Some("alice".into()), Some(1)).expires_in_ms(2),
    )
    .unwrap();
    assert_same_fields(&authenticated, &js["authenticated"]);
    let expiring = serde_json::to_value(protocol::TokenExpiringPayload::new(1, 2)).unwrap();
    assert_same_fields(&expiring, &js["expiring"]);
    assert_eq!(
        js["ack"],
        serde_json::to_value(protocol::AuthenticateAck::OK).unwrap()
    );
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(js["codes"], json!(codes));
    assert_eq!(js["type"], ERROR_TYPE);
    assert_eq!(js["busy"], protocol::SERVER_BUSY);
    for code in ErrorCode::ALL {
        assert_eq!(
            js["messages"][code.as_str()],
            code.default_message(),
            "message of {code}"
        );
    }
}

/// The keys of `payload` (as the server serializes it) are the names the client lists.
fn assert_same_fields(payload: &Value, js_names: &Value) {
    let mut fields: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut js_fields: Vec<&str> = js_names
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    fields.sort_unstable();
    js_fields.sort_unstable();
    assert_eq!(js_fields, fields);
}

#[test]
fn rust_client_names_match_the_server() {
    use socketioxide_jwt_client::protocol as client;
    let mut server: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    server.push(protocol::SERVER_BUSY);
    assert_eq!(client::ERROR_CODES.to_vec(), server);
    assert_eq!(client::SERVER_BUSY, protocol::SERVER_BUSY);
    assert_eq!(client::EVENT_AUTHENTICATE, protocol::EVENT_AUTHENTICATE);
    assert_eq!(client::EVENT_AUTHENTICATED, protocol::EVENT_AUTHENTICATED);
    assert_eq!(client::EVENT_UNAUTHORIZED, protocol::EVENT_UNAUTHORIZED);
    assert_eq!(client::EVENT_TOKEN_EXPIRING, protocol::EVENT_TOKEN_EXPIRING);
    assert_eq!(client::TOKEN_FIELD, protocol::TOKEN_FIELD);
}
