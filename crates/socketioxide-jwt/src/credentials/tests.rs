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

/// The default sources, as before they could be chosen.
fn token_from_handshake(
    auth: MessageCredentials,
    parts: &http::request::Parts,
    allow_query: bool,
) -> Result<Option<String>, AuthError> {
    CredentialRules::defaults(allow_query).handshake_token(auth, parts)
}

fn request(headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().uri("/socket.io/?EIO=4");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a request").into_parts().0
}

fn rules(sources: &[CredentialSource], origins: &[&str]) -> CredentialRules {
    CredentialRules {
        sources: sources.to_vec().into_boxed_slice(),
        allow_query: false,
        cookie_origins: origins
            .iter()
            .map(|o| crate::layer::normalize_origin(o))
            .collect(),
    }
}

/// The sources an application chose, in its order: header only ignores `auth`; cookie only
/// ignores the header; an order is followed; a cookie sent twice is refused; a cookie from an
/// origin off the list is refused with `forbidden`, from a listed one or with no `Origin`
/// accepted; an empty cookie is none.
#[test]
fn chosen_sources_in_their_order_and_the_cookie_only_from_allowed_origins() {
    let auth = || MessageCredentials::Token("a.a.a".into());
    let got = |rules: &CredentialRules, auth, parts: &http::request::Parts| {
        rules.handshake_token(auth, parts).map_err(|e| e.code())
    };
    let header_and_cookie = request(&[
        ("authorization", "Bearer h.h.h"),
        ("cookie", "theme=dark; tok=c.c.c"),
    ]);
    let cookie = || CredentialSource::Cookie("tok".into());
    let header_only = rules(&[CredentialSource::AuthorizationHeader], &[]);
    assert_eq!(
        got(&header_only, auth(), &header_and_cookie),
        Ok(Some("h.h.h".into()))
    );
    assert_eq!(
        got(&header_only, auth(), &request(&[])),
        Ok(None),
        "auth ignored"
    );
    let cookie_only = rules(&[cookie()], &["https://chat.example.com"]);
    assert_eq!(
        got(&cookie_only, auth(), &header_and_cookie),
        Ok(Some("c.c.c".into()))
    );
    let cookie_first = rules(
        &[cookie(), CredentialSource::AuthPayload],
        &["https://chat.example.com"],
    );
    assert_eq!(
        got(&cookie_first, auth(), &header_and_cookie),
        Ok(Some("c.c.c".into()))
    );
    assert_eq!(
        got(&cookie_first, auth(), &request(&[])),
        Ok(Some("a.a.a".into()))
    );
    // Sent twice (a sibling subdomain's cookie tossing): refused, whichever comes first.
    let twice = request(&[("cookie", "tok=c.c.c"), ("cookie", "tok=x.x.x")]);
    assert_eq!(
        got(&cookie_only, auth(), &twice),
        Err(ErrorCode::CredentialsBadFormat)
    );
    let twice = request(&[("cookie", "tok=c.c.c; tok=x.x.x")]);
    assert_eq!(
        got(&cookie_only, auth(), &twice),
        Err(ErrorCode::CredentialsBadFormat)
    );
    // Origins: listed (any case, a trailing slash) or absent pass; another, `null`, or one
    // that is not text is refused while the cookie is there; without the cookie, nothing to
    // refuse.
    for origin in ["https://chat.example.com", "HTTPS://Chat.Example.com/"] {
        let parts = request(&[("cookie", "tok=c.c.c"), ("origin", origin)]);
        assert_eq!(
            got(&cookie_only, auth(), &parts),
            Ok(Some("c.c.c".into())),
            "{origin}"
        );
    }
    for origin in [
        "https://evil.example",
        "null",
        "https://chat.example.com.evil.example",
    ] {
        let parts = request(&[("cookie", "tok=c.c.c"), ("origin", origin)]);
        assert_eq!(
            got(&cookie_only, auth(), &parts),
            Err(ErrorCode::Forbidden),
            "{origin}"
        );
        let parts = request(&[("origin", origin)]);
        assert_eq!(got(&cookie_only, auth(), &parts), Ok(None), "{origin}");
    }
    let mut parts = request(&[("cookie", "tok=c.c.c")]);
    parts.headers.insert(
        http::header::ORIGIN,
        http::HeaderValue::from_bytes(b"https://chat.example.com\xff").expect("opaque bytes"),
    );
    assert_eq!(got(&cookie_only, auth(), &parts), Err(ErrorCode::Forbidden));
    // No `Origin` (a cross-site GET sends none): the browser's Sec-Fetch-Site decides.
    for (site, accepted) in [
        ("same-origin", true),
        ("none", true),
        ("cross-site", false),
        ("same-site", false),
    ] {
        let parts = request(&[("cookie", "tok=c.c.c"), ("sec-fetch-site", site)]);
        let expected = if accepted {
            Ok(Some("c.c.c".into()))
        } else {
            Err(ErrorCode::Forbidden)
        };
        assert_eq!(got(&cookie_only, auth(), &parts), expected, "{site}");
    }
    let parts = request(&[
        ("cookie", "tok=c.c.c"),
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://chat.example.com"),
    ]);
    assert_eq!(
        got(&cookie_only, auth(), &parts),
        Ok(Some("c.c.c".into())),
        "a listed Origin"
    );
    // An empty cookie is no cookie.
    assert_eq!(
        got(&cookie_only, auth(), &request(&[("cookie", "tok=")])),
        Ok(None)
    );
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
