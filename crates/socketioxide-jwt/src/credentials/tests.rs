use super::*;
use serde_json::{json, Value};

/// MessagePack payloads (socketioxide's `msgpack` parser reads them with rmp-serde): the same
/// codes as JSON, whatever msgpack can hold that JSON cannot (non-string keys, extension
/// values, binary).
#[test]
fn msgpack_payload_shapes() {
    let code = |bytes: &[u8]| {
        rmp_serde::from_slice::<MessageCredentials>(bytes)
            .expect("any msgpack value reads")
            .token()
            .map(str::to_owned)
            .map_err(|e| e.code())
    };
    let token = b"\xa5token";
    // {"token": "a.b.c"}
    let plain = [&b"\x81"[..], token, b"\xa5a.b.c"].concat();
    assert_eq!(code(&plain), Ok("a.b.c".to_owned()));
    // {1: "x", [1]: {}, true: null, <timestamp>: 1, "token": "a.b.c"}: other keys of any
    // type are skipped, extension values included.
    let odd_keys = [
        &b"\x85\x01\xa1x\x91\x01\x80\xc3\xc0\xd6\xff\x00\x00\x00\x01\x01"[..],
        token,
        b"\xa5a.b.c",
    ]
    .concat();
    assert_eq!(code(&odd_keys), Ok("a.b.c".to_owned()));
    // {"token": <fixext4 -1: a timestamp>}
    let ext = [&b"\x81"[..], token, b"\xd6\xff\x00\x00\x00\x01"].concat();
    assert_eq!(code(&ext), Err(ErrorCode::CredentialsBadFormat));
    // A timestamp as the whole payload.
    assert_eq!(
        code(b"\xd6\xff\x00\x00\x00\x01"),
        Err(ErrorCode::CredentialsBadFormat)
    );
    // {"token": <bin "a.b.c">}
    let bin = [&b"\x81"[..], token, b"\xc4\x05a.b.c"].concat();
    assert_eq!(code(&bin), Err(ErrorCode::CredentialsBadFormat));
    // nil, and {"token": nil}
    assert_eq!(code(b"\xc0"), Err(ErrorCode::CredentialsRequired));
    let nil = [&b"\x81"[..], token, b"\xc0"].concat();
    assert_eq!(code(&nil), Err(ErrorCode::CredentialsRequired));
}

#[test]
fn message_payload_shapes() {
    let code = |v: Option<Value>| {
        let read = match v {
            Some(v) => serde_json::from_value::<MessageCredentials>(v).expect("any JSON value"),
            None => MessageCredentials::Missing,
        };
        read.token().map(str::to_owned).map_err(|e| e.code())
    };
    assert_eq!(
        code(Some(json!({"token": "a.b.c"}))),
        Ok("a.b.c".to_owned())
    );
    assert_eq!(
        code(Some(
            json!({"other": {"token": 1}, "token": "a.b.c", "more": [null]})
        )),
        Ok("a.b.c".to_owned()),
        "other fields are skipped, nested ones too"
    );
    assert_eq!(code(None), Err(ErrorCode::CredentialsRequired));
    assert_eq!(code(Some(Value::Null)), Err(ErrorCode::CredentialsRequired));
    assert_eq!(code(Some(json!({}))), Err(ErrorCode::CredentialsRequired));
    assert_eq!(
        code(Some(json!({"token": null}))),
        Err(ErrorCode::CredentialsRequired)
    );
    assert_eq!(
        code(Some(json!({"token": ""}))),
        Err(ErrorCode::CredentialsRequired)
    );
    for bad in [
        json!({"token": 1}),
        json!({"token": -1}),
        json!({"token": 1.5}),
        json!({"token": true}),
        json!({"token": [1]}),
        json!({"token": {}}),
        json!("a.b.c"),
        json!(1),
        json!(false),
        json!(["a.b.c"]),
    ] {
        assert_eq!(
            code(Some(bad.clone())),
            Err(ErrorCode::CredentialsBadFormat),
            "{bad}"
        );
    }
}

#[test]
fn message_payload_text() {
    // Escapes in the token and in field names are read as JSON reads them.
    let read: MessageCredentials =
        serde_json::from_str(r#"{"tok\u0065n": "a.b\u002ec", "token": "x.y.z"}"#)
            .expect("valid JSON");
    assert_eq!(
        read,
        MessageCredentials::Token("x.y.z".into()),
        "the last token counts"
    );
    let read: MessageCredentials =
        serde_json::from_str(r#"{"tok\u0065n": "a.b\u002ec"}"#).expect("valid JSON");
    assert_eq!(read, MessageCredentials::Token("a.b.c".into()));
}

#[test]
fn handshake_sources() {
    let read = |v: Value| serde_json::from_value::<MessageCredentials>(v).expect("any JSON");
    let (parts, _) = http::Request::builder()
        .uri("/socket.io/?EIO=4&token=q.q.q")
        .header("authorization", "Bearer h.h.h")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(
        token_from_handshake(read(json!({"token": "Bearer a.a.a"})), &parts, false)
            .unwrap()
            .as_deref(),
        Some("a.a.a")
    );
    assert_eq!(
        token_from_handshake(MessageCredentials::Missing, &parts, false)
            .unwrap()
            .as_deref(),
        Some("h.h.h")
    );
    let (parts, _) = http::Request::builder()
        .uri("/socket.io/?EIO=4&token=q.q.q")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(
        token_from_handshake(MessageCredentials::Missing, &parts, false).unwrap(),
        None
    );
    assert_eq!(
        token_from_handshake(MessageCredentials::Missing, &parts, true)
            .unwrap()
            .as_deref(),
        Some("q.q.q")
    );
    for bad in [json!({"token": 42}), json!("a.b.c")] {
        assert_eq!(
            token_from_handshake(read(bad), &parts, false)
                .unwrap_err()
                .code(),
            ErrorCode::CredentialsBadFormat
        );
    }
}

/// One rule everywhere: a `Bearer` prefix, in any case, is accepted in the `authenticate`
/// payload, the handshake `auth`, the header and the query; another scheme is not a token.
#[test]
fn bearer_prefix_is_one_rule_everywhere() {
    for prefixed in ["Bearer a.b.c", "bearer a.b.c", "BEARER  a.b.c ", " a.b.c"] {
        assert_eq!(
            serde_json::from_value::<MessageCredentials>(json!({ "token": prefixed })).unwrap(),
            MessageCredentials::Token("a.b.c".into()),
            "{prefixed:?}"
        );
    }
    for (header, expected) in [
        ("Bearer h.h.h", Ok(Some("h.h.h"))),
        ("bearer h.h.h", Ok(Some("h.h.h"))),
        ("BeArEr   h.h.h  ", Ok(Some("h.h.h"))),
        ("Basic dXNlcjpwYXNz", Err(ErrorCode::CredentialsBadFormat)),
        ("h.h.h", Err(ErrorCode::CredentialsBadFormat)),
        ("Bearerh.h.h", Err(ErrorCode::CredentialsBadFormat)),
    ] {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, header.parse().unwrap());
        assert_eq!(
            bearer_token(&headers).map_err(|e| e.code()),
            expected,
            "{header:?}"
        );
    }
    assert_eq!(
        serde_json::from_value::<MessageCredentials>(json!({ "token": "Bearer " })).unwrap(),
        MessageCredentials::Missing,
        "a prefix and nothing else is no token"
    );
}
