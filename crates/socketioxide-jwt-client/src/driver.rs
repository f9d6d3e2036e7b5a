//! The glue between the [`Machine`] and rust_socketio: turns callbacks into [`Input`]s and
//! carries out the [`Effect`]s. It decides nothing.
//!
//! Every task it starts (token fetches, timers, emits, reconnections) ends when the client is
//! closed: they all run under one cancellation token.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder, ReconnectSettings};
use rust_socketio::{Event, Payload};
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::AuthError;
use crate::machine::{Effect, Input, Machine, Mode, Now, State};
use crate::protocol::{token_payload, EventNames};
use crate::token::{TokenError, TokenSource};

/// An application event handler (shared by every connection the client opens).
pub(crate) type Handler = Arc<Mutex<Box<dyn FnMut(Value) + Send + Sync>>>;
/// The wall clock.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The prefix rust_socketio 0.6.0 (pinned in Cargo.toml) puts before a `connect_error`'s
/// payload in its error event: it offers no typed event for it. Checked against a real server by
/// `e2e/tests/rust_client.rs` (`a_bad_token_is_an_error_with_the_code`).
const CONNECT_ERROR_PREFIX: &str = "Received an ConnectError frame: ";

/// What the application can observe: the state, and counters to wait on.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) state: State,
    pub(crate) authentications: u64,
    /// Failures of the token source so far, and the last one.
    pub(crate) token_failures: u64,
    pub(crate) token_error: Option<TokenError>,
}

/// Where and how to connect.
pub(crate) struct Connection {
    pub(crate) url: String,
    pub(crate) namespace: String,
    pub(crate) mode: Mode,
    pub(crate) reconnect: bool,
    /// How long a refresh waits for the server's ack.
    pub(crate) ack_timeout: std::time::Duration,
    pub(crate) events: EventNames,
    pub(crate) handlers: Vec<(String, Handler)>,
}

/// One client's machine, transport and tasks.
pub(crate) struct Driver {
    machine: Mutex<Machine>,
    snapshot: watch::Sender<Snapshot>,
    token: TokenSource,
    /// The transport's own handshake, waiting for the machine's token (`HandshakeToken`).
    handshake: Mutex<Option<tokio::sync::oneshot::Sender<String>>>,
    connection: Connection,
    clock: Clock,
    client: tokio::sync::Mutex<Option<Client>>,
    /// Which transport is current: callbacks of a replaced one are ignored (and it is closed).
    transport: std::sync::atomic::AtomicU64,
    tasks: CancellationToken,
}

impl Driver {
    pub(crate) fn new(
        machine: Machine,
        token: TokenSource,
        connection: Connection,
        clock: Clock,
    ) -> Arc<Self> {
        let snapshot = Snapshot {
            state: machine.state().clone(),
            authentications: 0,
            token_failures: 0,
            token_error: None,
        };
        Arc::new(Self {
            machine: Mutex::new(machine),
            snapshot: watch::Sender::new(snapshot),
            token,
            handshake: Mutex::new(None),
            connection,
            clock,
            client: tokio::sync::Mutex::new(None),
            transport: std::sync::atomic::AtomicU64::new(0),
            tasks: CancellationToken::new(),
        })
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.subscribe()
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// The current transport.
    pub(crate) async fn client(&self) -> Option<Client> {
        self.client.lock().await.clone()
    }

    fn now(&self) -> Now {
        let wall = (self.clock)()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // Jitter from the real clock's nanoseconds: enough to spread clients.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        Now {
            instant: Instant::now(),
            unix: wall.as_secs(),
            jitter: f64::from(nanos) / 1e9,
        }
    }

    /// Feeds one input to the machine, publishes its state, carries out its effects.
    pub(crate) fn step(self: &Arc<Self>, input: Input) {
        let now = self.now();
        let effects = {
            let mut machine = lock(&self.machine);
            let effects = machine.step(input, now);
            self.snapshot.send_if_modified(|snapshot| {
                let (token_failures, token_error) = machine.token_failures();
                let changed = snapshot.state != *machine.state()
                    || snapshot.authentications != machine.authentications()
                    || snapshot.token_failures != token_failures;
                snapshot.state = machine.state().clone();
                snapshot.authentications = machine.authentications();
                snapshot.token_failures = token_failures;
                snapshot.token_error = token_error.cloned();
                changed
            });
            effects
        };
        for effect in effects {
            self.run(effect);
        }
    }

    fn run(self: &Arc<Self>, effect: Effect) {
        let this = self.clone();
        match effect {
            Effect::FetchToken(request, id) => self.spawn(async move {
                let result = this.token.get(request).await;
                if let Err(e) = &result {
                    tracing::warn!(error = %e, ?request, "the token source failed");
                }
                this.step(Input::Token(request, id, result));
            }),
            Effect::SendRefresh(token) => self.spawn(async move {
                if !this.send_refresh(token).await {
                    this.step(Input::RefreshUnanswered);
                }
            }),
            Effect::HandshakeToken(token) => {
                if let Some(waiting) = lock(&self.handshake).take() {
                    let _ = waiting.send(token);
                }
            }
            Effect::Authenticate(token) => self.spawn(async move {
                let Some(client) = this.client().await else {
                    return;
                };
                let event = this.connection.events.authenticate.as_str();
                if let Err(e) = client.emit(event, token_payload(token)).await {
                    tracing::warn!(error = %e, "could not send authenticate");
                }
            }),
            Effect::Open(token) => self.spawn(async move {
                if let Err(e) = this.open(token).await {
                    tracing::warn!(error = %e, "could not connect: trying again after a backoff");
                    this.step(Input::OpenFailed);
                }
            }),
            Effect::SetTimer(timer, delay, epoch) => self.spawn(async move {
                tokio::time::sleep(delay).await;
                this.step(Input::TimerFired(timer, epoch));
            }),
            Effect::Shutdown => {
                self.tasks.cancel();
                // Not under the cancellation: closing must happen (when a runtime is there to
                // run it: a client dropped after its runtime has nothing left to close).
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move { this.shutdown().await });
                }
            }
        }
    }

    /// Runs `task` until it ends or the client is closed.
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let closed = self.tasks.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            tokio::select! {
                () = closed.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Emits a refresh's `authenticate` and waits, at most the ack timeout, for its ack:
    /// whether one came (a refusal also arrives as `unauthorized`).
    async fn send_refresh(&self, token: String) -> bool {
        let Some(client) = self.client().await else {
            return false;
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let event = self.connection.events.authenticate.as_str();
        let timeout = self.connection.ack_timeout;
        let sent = client
            .emit_with_ack(event, token_payload(token), timeout, move |_, _| {
                if let Some(tx) = lock(&tx).take() {
                    let _ = tx.send(());
                }
                async {}.boxed()
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not send the refresh");
            return false;
        }
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(())))
    }

    /// Closes the transport (no reconnect of its own).
    pub(crate) async fn shutdown(&self) {
        self.transport.fetch_add(1, Ordering::SeqCst);
        let client = self.client.lock().await.take();
        if let Some(client) = client {
            let _ = client.disconnect().await;
        }
    }

    /// Closes the current transport and opens a new one (with `token` in the handshake).
    async fn open(self: &Arc<Self>, token: Option<String>) -> Result<(), rust_socketio::Error> {
        let mut current = self.client.lock().await;
        // From here the old transport's callbacks are stale.
        let transport = self.transport.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(old) = current.take() {
            let _ = old.disconnect().await;
        }
        let client = self.builder(token, transport).connect().await?;
        *current = Some(client);
        Ok(())
    }

    /// Feeds `input` from transport `transport`, if it is the current one; a replaced transport
    /// that still speaks (rust_socketio's own reconnect brought it back) is closed instead.
    fn feed(self: &Arc<Self>, transport: u64, input: Input, client: &Client) {
        if self.transport.load(Ordering::SeqCst) == transport {
            self.step(input);
        } else {
            let stale = client.clone();
            tokio::spawn(async move {
                let _ = stale.disconnect().await;
            });
        }
    }

    fn builder(self: &Arc<Self>, token: Option<String>, transport: u64) -> ClientBuilder {
        let c = &self.connection;
        let mut builder = ClientBuilder::new(c.url.clone())
            .namespace(c.namespace.clone())
            .reconnect(c.reconnect)
            // The server closing the connection is the machine's to answer (`ServerClosed`).
            .reconnect_on_disconnect(false)
            .reconnect_delay(100, 2000);
        if let Some(token) = token {
            builder = builder.auth(token_payload(token));
        }
        let this = self.clone();
        builder = builder.on_reconnect(move || {
            let this = this.clone();
            async move { this.reconnecting(transport).await }.boxed()
        });
        let this = self.clone();
        builder = builder.on(Event::Connect, move |_, client| {
            this.feed(transport, Input::Connected, &client);
            async {}.boxed()
        });
        let this = self.clone();
        // rust_socketio 0.6 calls `close` for the server's disconnect packet only (a lost
        // connection goes through `on_reconnect`).
        builder = builder.on(Event::Close, move |_, client| {
            this.feed(transport, Input::ServerClosed, &client);
            async {}.boxed()
        });
        let this = self.clone();
        builder = builder.on(c.events.authenticated.as_str(), move |payload, client| {
            let info = serde_json::from_value(first_arg(&payload)).unwrap_or_default();
            this.feed(transport, Input::Authenticated(info), &client);
            async {}.boxed()
        });
        let this = self.clone();
        builder = builder.on(c.events.unauthorized.as_str(), move |payload, client| {
            let err = AuthError::from_refusal(&first_arg(&payload));
            this.feed(transport, Input::Unauthorized(err), &client);
            async {}.boxed()
        });
        let this = self.clone();
        builder = builder.on(c.events.token_expiring.as_str(), move |_, client| {
            this.feed(transport, Input::TokenExpiring, &client);
            async {}.boxed()
        });
        let this = self.clone();
        builder = builder.on(Event::Error, move |payload, client| {
            match connect_error(&payload) {
                Some(err) => this.feed(transport, Input::ConnectRefused(err), &client),
                None => tracing::debug!(error = ?payload, "socket.io client error"),
            }
            async {}.boxed()
        });
        for (event, handler) in &c.handlers {
            let handler = handler.clone();
            builder = builder.on(event.as_str(), move |payload, _| {
                (lock(&handler))(first_arg(&payload));
                async {}.boxed()
            });
        }
        builder
    }

    /// The transport lost its connection and reconnects by itself: not authenticated until the
    /// server says so again; in handshake mode, the machine's token for the new handshake.
    async fn reconnecting(self: &Arc<Self>, transport: u64) -> ReconnectSettings {
        let mut settings = ReconnectSettings::new();
        if self.connection.mode == Mode::Handshake {
            // Without a token from the machine, an empty `auth`: rust_socketio would otherwise
            // reuse the one the transport was opened with, maybe a refused one.
            settings.auth(serde_json::json!({}));
        }
        if self.transport.load(Ordering::SeqCst) != transport {
            // A replaced transport: no token for it (its Connect closes it).
            return settings;
        }
        self.step(Input::ConnectionLost);
        if self.connection.mode != Mode::Handshake {
            return settings;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        *lock(&self.handshake) = Some(tx);
        self.step(Input::HandshakeAuth);
        // The answer comes as an effect (at once, or once the source answers); a source that
        // fails ends the client, and the sender with it.
        let closed = self.tasks.clone();
        tokio::select! {
            token = rx => match token {
                Ok(token) => {
                    settings.auth(token_payload(token));
                }
                Err(_) => tracing::warn!("no token for the reconnect"),
            },
            () = closed.cancelled() => {}
        }
        settings
    }
}

/// A `connect_error`'s payload, which rust_socketio hands over as text after a prefix.
fn connect_error(payload: &Payload) -> Option<AuthError> {
    let text = match payload {
        Payload::Text(values) => values.first()?.as_str()?.to_owned(),
        #[allow(deprecated)]
        Payload::String(s) => s.clone(),
        Payload::Binary(_) => return None,
    };
    let json = text.strip_prefix(CONNECT_ERROR_PREFIX)?;
    let value: Value = serde_json::from_str(json).unwrap_or(Value::String(json.to_owned()));
    Some(AuthError::from_connect_error(&value))
}

/// The first argument of an event.
pub(crate) fn first_arg(payload: &Payload) -> Value {
    match payload {
        Payload::Text(values) => values.first().cloned().unwrap_or(Value::Null),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        Payload::Binary(_) => Value::Null,
    }
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connect_errors_are_read_from_the_servers_payload() {
        let text = |s: &str| Payload::Text(vec![json!(s)]);
        let err = connect_error(&text(
            r#"Received an ConnectError frame: {"message":"revoked","data":{"code":"revoked","message":"the token has been revoked"}}"#,
        ));
        assert_eq!(err.unwrap().message, "the token has been revoked");
        let err = connect_error(&text(
            r#"Received an ConnectError frame: {"message":"server_busy"}"#,
        ));
        assert_eq!(err.unwrap().code, "server_busy");
        assert_eq!(connect_error(&text("websocket error")), None);
    }
}
