//! The library logs every decision, and never a token.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use socketioxide_jwt_e2e::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn decisions_are_logged_without_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("socketioxide_jwt=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = Server::start_both_modes().await;
    let good = sign(&claims("alice", 600));
    let forged = sign_with(
        jsonwebtoken::Header::default(),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-server-secret-0123456789").unwrap(),
        &claims("mallory", 600),
    );
    let expired = sign(&claims("old", -100));
    let mut c = Client::start().await;
    c.login("ok", &server.url("/"), &good).await;
    for (id, token) in [("forged", &forged), ("expired", &expired)] {
        c.connected(id, &server.url("/"), json!({})).await;
        c.emit(id, "authenticate", json!([{ "token": token }]))
            .await;
        c.expect_event(id, "unauthorized").await;
        c.connect(
            &format!("{id}-hs"),
            &server.url("/hs"),
            json!({"auth": {"token": token}}),
        )
        .await;
        c.expect_kind(&format!("{id}-hs"), "connect_error").await;
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("socket authenticated") && logs.contains("alice"),
        "{logs}"
    );
    assert!(logs.contains("code=invalid_token"), "{logs}");
    assert!(logs.contains("code=token_expired"), "{logs}");
    for token in [&good, &forged, &expired] {
        for part in token.split('.') {
            assert!(!logs.contains(part), "a token part was logged:\n{logs}");
        }
    }
}
