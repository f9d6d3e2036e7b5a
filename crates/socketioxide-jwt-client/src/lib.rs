#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder, ReconnectSettings};
use rust_socketio::{Event, Payload};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

pub mod protocol {
    //! The wire names this client uses, mirroring the server crate's `socketioxide_jwt::protocol`
    //! (a test in the repository compares the two).

    /// Client → server event carrying `{ token }`.
    pub const EVENT_AUTHENTICATE: &str = "authenticate";
    /// Server → client event after a successful (re)authentication: `{ sub, exp }`.
    pub const EVENT_AUTHENTICATED: &str = "authenticated";
    /// Server → client event with the error object, right before a disconnect.
    pub const EVENT_UNAUTHORIZED: &str = "unauthorized";
    /// Server → client event once per token, shortly before it expires: `{ exp, expires_in_ms }`.
    pub const EVENT_TOKEN_EXPIRING: &str = "token_expiring";
    /// Codes after which a new token may succeed where the refused one cannot.
    pub const RECOVERABLE_CODES: [&str; 2] = ["token_expired", "revoked"];
    /// The field holding the token, in the `authenticate` payload and the handshake `auth`.
    pub const TOKEN_FIELD: &str = "token";
    /// The `connect_error` message of a server with too many pending sockets (retry later).
    pub const SERVER_BUSY: &str = "server_busy";
    /// Error codes of the wire contract, plus [`SERVER_BUSY`].
    pub const ERROR_CODES: [&str; 8] = [
        "credentials_required",
        "credentials_bad_format",
        "invalid_token",
        "token_expired",
        "timeout",
        "revoked",
        "forbidden",
        SERVER_BUSY,
    ];

    /// `{ "token": token }`: the `authenticate` payload and the handshake `auth`.
    pub(crate) fn token_payload(token: String) -> serde_json::Value {
        let mut payload = serde_json::Map::new();
        payload.insert(TOKEN_FIELD.to_owned(), serde_json::Value::String(token));
        serde_json::Value::Object(payload)
    }
}

pub use protocol::ERROR_CODES;
use protocol::{
    token_payload, EVENT_AUTHENTICATE, EVENT_AUTHENTICATED, EVENT_TOKEN_EXPIRING,
    EVENT_UNAUTHORIZED, RECOVERABLE_CODES, SERVER_BUSY,
};

/// How the token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Connect, then emit `authenticate` with `{ token }` (the default).
    #[default]
    Message,
    /// In the handshake's `auth` payload.
    Handshake,
}

/// Why a token is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRequest {
    /// The first connection.
    Connect,
    /// A reconnection after the connection was lost.
    Reconnect,
    /// An in-band refresh before `exp` (on the client's timer or the server's `token_expiring`).
    Refresh,
    /// The server refused the last token because it expired: return a *new* token, or an
    /// error. The client never retries the refused token.
    Expired,
    /// The server refused the last token because it (or its user) was revoked: as
    /// [`TokenRequest::Expired`].
    Revoked,
}

type TokenFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Where tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// Always the same token (no refresh possible beyond its `exp`).
    Static(String),
    /// An async function asked for each (re)connect and refresh.
    Fn(Arc<dyn Fn(TokenRequest) -> TokenFuture + Send + Sync>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Static(_) => f.write_str("TokenSource::Static(..)"),
            TokenSource::Fn(_) => f.write_str("TokenSource::Fn(..)"),
        }
    }
}

impl TokenSource {
    /// A token source from an async function.
    pub fn from_fn<F, Fut>(f: F) -> Self
    where
        F: Fn(TokenRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        TokenSource::Fn(Arc::new(move |req| Box::pin(f(req))))
    }

    async fn get(&self, request: TokenRequest) -> Result<String, Error> {
        match self {
            TokenSource::Static(t) => Ok(t.clone()),
            TokenSource::Fn(f) => f(request).await.map_err(Error::Token),
        }
    }
}

/// The contract's error object, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthError {
    /// The code (`invalid_token`, `revoked`, ...).
    pub code: String,
    /// Human-readable text.
    pub message: String,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the token (or the connection), with the contract's code.
    #[error("refused by the server: {} ({})", .0.code, .0.message)]
    Refused(AuthError),
    /// No answer in time.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The token source failed.
    #[error("the token source failed: {0}")]
    Token(String),
    /// The ack did not have the expected shape.
    #[error("unexpected ack payload")]
    Ack(#[source] serde_json::Error),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// rust_socketio's own error.
    #[error(transparent)]
    Socket(#[from] rust_socketio::Error),
}

/// What the server confirmed with `authenticated`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthenticatedInfo {
    /// The subject.
    pub sub: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: Option<u64>,
    /// Milliseconds left until `exp` when the server sent it, by the server's clock (what the
    /// refresh is scheduled on: a wrong local clock cannot bend it).
    #[serde(default)]
    pub expires_in_ms: Option<u64>,
}

#[derive(Debug, Clone)]
enum State {
    Connecting,
    Authenticated(AuthenticatedInfo),
    /// The server said `server_busy`: connecting again after a backoff.
    Waiting,
    Refused(AuthError),
}

/// At most this many refreshes in a rolling minute, below the server's own limit (10
/// `authenticate` a minute by default), whatever the clocks say.
const MAX_REFRESHES_PER_MINUTE: usize = 8;
/// Backoff after `server_busy`: the first delay and the longest (full jitter).
const BUSY_BACKOFF_MIN: Duration = Duration::from_secs(1);
const BUSY_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// When to refresh after `authenticated`: `margin` before expiry, never later than half the time
/// left, never sooner than 500 ms. The time left is the server's (`expires_in_ms`), so a wrong
/// local clock (`now_unix`) cannot make it refresh in a loop; `exp` against `now_unix` only for
/// servers that do not send it. `None` without either.
fn refresh_delay(info: &AuthenticatedInfo, margin: Duration, now_unix: u64) -> Option<Duration> {
    let remaining = match (info.expires_in_ms, info.exp) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(exp)) => Duration::from_secs(exp.saturating_sub(now_unix)),
        (None, None) => return None,
    };
    Some(
        remaining
            .saturating_sub(margin)
            .max(remaining / 2)
            .max(Duration::from_millis(500)),
    )
}

/// The delay before try `attempt` (0, 1, ...) after `server_busy`: exponential with full jitter,
/// between half the first delay and the ceiling.
fn busy_backoff(attempt: u32) -> Duration {
    let ceiling = BUSY_BACKOFF_MIN
        .saturating_mul(1u32 << attempt.min(10))
        .min(BUSY_BACKOFF_MAX);
    let floor = BUSY_BACKOFF_MIN / 2;
    // Jitter from the clock's nanoseconds: enough to spread clients, no RNG dependency.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    floor + (ceiling - floor).mul_f64(f64::from(nanos) / 1e9)
}

struct Shared {
    token: TokenSource,
    mode: Mode,
    refresh_margin: Duration,
    /// Ask for a new token after `token_expired` / `revoked` (at most `max_recoveries` in a row).
    recover: bool,
    max_recoveries: u32,
    recoveries: AtomicU32,
    /// The token last sent (what a refusal refers to).
    last_token: Mutex<Option<String>>,
    /// A new token fetched after a refusal, for the next connection.
    next_token: Mutex<Option<String>>,
    refreshing: AtomicBool,
    state: watch::Sender<State>,
    client: Mutex<Option<Client>>,
    url: String,
    namespace: String,
    reconnect: bool,
    handlers: Vec<(String, SharedHandler)>,
    refresh_generation: AtomicU64,
    connected_before: Mutex<bool>,
    /// When the last refreshes started (the rolling-minute floor).
    refresh_times: Mutex<std::collections::VecDeque<tokio::time::Instant>>,
    /// `server_busy` answers in a row, for the backoff.
    busy_retries: AtomicU32,
}

type Handler = Box<dyn FnMut(Value) + Send + Sync>;
/// A handler registered on every client the helper opens (a new one after a refusal).
type SharedHandler = Arc<Mutex<Handler>>;

/// Builds an [`AuthClient`].
#[must_use]
pub struct AuthClientBuilder {
    url: String,
    namespace: String,
    mode: Mode,
    token: Option<TokenSource>,
    refresh_margin: Duration,
    timeout: Duration,
    reconnect: bool,
    recover: bool,
    max_recoveries: u32,
    handlers: Vec<(String, Handler)>,
}

impl std::fmt::Debug for AuthClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClientBuilder")
            .field("url", &self.url)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl AuthClientBuilder {
    /// A client for the server at `url` (namespace `/` unless [`namespace`](Self::namespace)).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            namespace: "/".into(),
            mode: Mode::Message,
            token: None,
            refresh_margin: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            reconnect: true,
            recover: true,
            max_recoveries: 3,
            handlers: Vec::new(),
        }
    }

    /// The namespace. Defaults to `/`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How the token travels. Defaults to [`Mode::Message`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Where tokens come from (required).
    pub fn token(mut self, token: TokenSource) -> Self {
        self.token = Some(token);
        self
    }

    /// Refresh this long before `exp` (never later than half the remaining lifetime). Defaults
    /// to 60 s.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long [`connect`](Self::connect) waits for `authenticated`. Defaults to 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reconnect (and authenticate again) after the connection is lost, the server's own
    /// disconnects included. Defaults to true.
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// After `unauthorized` with `token_expired` or `revoked`, ask the token source for a new
    /// token ([`TokenRequest::Expired`] / [`TokenRequest::Revoked`]) and reconnect with it, at most
    /// `max_recoveries` times in a row (defaults: on, 3). A source that returns the refused token
    /// again, fails, or is refused that often ends in the refused state (see
    /// [`AuthClient::refusal`]) and the client stops reconnecting: never a loop with a stale
    /// token. Any other refusal ends there at once. The same holds for a handshake refused with
    /// those codes. The new token goes out on a new connection (rust_socketio keeps the refused
    /// one open without a namespace; the helper closes it).
    pub fn recover(mut self, recover: bool, max_recoveries: u32) -> Self {
        self.recover = recover;
        self.max_recoveries = max_recoveries;
        self
    }

    /// Calls `handler` with the first argument of every `event`.
    pub fn on(
        mut self,
        event: impl Into<String>,
        handler: impl FnMut(Value) + Send + Sync + 'static,
    ) -> Self {
        self.handlers.push((event.into(), Box::new(handler)));
        self
    }

    /// Connects and authenticates; returns once the server said `authenticated`.
    ///
    /// # Errors
    /// [`Error::Refused`] with the server's code, [`Error::Timeout`], or a transport error.
    pub async fn connect(self) -> Result<AuthClient, Error> {
        let token = self
            .token
            .ok_or_else(|| Error::Token("no token source configured".into()))?;
        let (state, state_rx) = watch::channel(State::Connecting);
        let shared = Arc::new(Shared {
            token,
            mode: self.mode,
            refresh_margin: self.refresh_margin,
            recover: self.recover,
            max_recoveries: self.max_recoveries,
            recoveries: AtomicU32::new(0),
            last_token: Mutex::new(None),
            next_token: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            state,
            client: Mutex::new(None),
            url: self.url,
            namespace: self.namespace,
            reconnect: self.reconnect,
            handlers: self
                .handlers
                .into_iter()
                .map(|(event, handler)| (event, Arc::new(Mutex::new(handler))))
                .collect(),
            refresh_generation: AtomicU64::new(0),
            connected_before: Mutex::new(false),
            refresh_times: Mutex::new(std::collections::VecDeque::new()),
            busy_retries: AtomicU32::new(0),
        });

        let client = shared.open(TokenRequest::Connect).await?;
        match settled(state_rx, self.timeout).await {
            Ok(_) => Ok(AuthClient { shared }),
            Err(e) => {
                let _ = client.disconnect().await;
                Err(e)
            }
        }
    }
}
/// Waits, at most `timeout`, until the state is `Authenticated` (its info) or `Refused`.
async fn settled(
    mut rx: watch::Receiver<State>,
    timeout: Duration,
) -> Result<AuthenticatedInfo, Error> {
    tokio::time::timeout(timeout, async {
        loop {
            match &*rx.borrow_and_update() {
                State::Authenticated(info) => return Ok(info.clone()),
                State::Refused(err) => return Err(Error::Refused(err.clone())),
                State::Connecting | State::Waiting => {}
            }
            if rx.changed().await.is_err() {
                return Err(Error::Timeout);
            }
        }
    })
    .await
    .map_err(|_| Error::Timeout)?
}

fn first_arg(payload: &Payload) -> Value {
    match payload {
        Payload::Text(values) => values.first().cloned().unwrap_or(Value::Null),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        Payload::Binary(_) => Value::Null,
    }
}

fn payload_text(payload: &Payload) -> String {
    match payload {
        Payload::Text(values) => values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(" "),
        #[allow(deprecated)]
        Payload::String(s) => s.clone(),
        Payload::Binary(_) => String::new(),
    }
}

/// The code in a `connect_error` (rust_socketio reports it as an error string).
fn refusal_code(text: &str) -> Option<&'static str> {
    if !text.contains("ConnectError") {
        return None;
    }
    ERROR_CODES
        .into_iter()
        .find(|code| text.contains(&format!("\"{code}\"")))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Shared {
    /// Opens a rust_socketio client with every handler of this helper; in handshake mode with
    /// a token asked for `request`. Replaces the current client.
    fn open(self: &Arc<Self>, request: TokenRequest) -> BoxFuture<'static, Result<Client, Error>> {
        let this = self.clone();
        async move { this.open_now(request).await }.boxed()
    }

    async fn open_now(self: &Arc<Self>, request: TokenRequest) -> Result<Client, Error> {
        let shared = self;
        let mut builder = ClientBuilder::new(self.url.clone())
            .namespace(self.namespace.clone())
            .reconnect(self.reconnect)
            .reconnect_on_disconnect(self.reconnect)
            .reconnect_delay(100, 2000);
        if self.mode == Mode::Handshake {
            let token = shared.current_token(request).await?;
            builder = builder.auth(token_payload(token));
            let on_reconnect = shared.clone();
            builder = builder.on_reconnect(move || {
                let shared = on_reconnect.clone();
                async move {
                    // The connection was lost (perhaps without a close event): not
                    // authenticated until the server says so again.
                    shared.refresh_generation.fetch_add(1, Ordering::SeqCst);
                    if !matches!(&*shared.state.borrow(), State::Refused(_)) {
                        shared.state.send_replace(State::Connecting);
                    }
                    let mut settings = ReconnectSettings::new();
                    match shared.current_token(TokenRequest::Reconnect).await {
                        Ok(token) => settings.auth(token_payload(token)),
                        Err(e) => tracing::warn!(error = %e, "no token for the reconnect"),
                    }
                    settings
                }
                .boxed()
            });
        }
        let on_connect = shared.clone();
        builder = builder.on(Event::Connect, move |_, client| {
            let shared = on_connect.clone();
            async move { shared.on_connect(client).await }.boxed()
        });
        let on_close = shared.clone();
        builder = builder.on(Event::Close, move |_, client| {
            let shared = on_close.clone();
            async move {
                if matches!(&*shared.state.borrow(), State::Refused(_)) {
                    // Refused for good: stop rust_socketio's reconnect (a stale token would only
                    // be refused again).
                    let _ = client.disconnect().await;
                    return;
                }
                // Until the next `authenticated`, the client is not authenticated.
                shared.refresh_generation.fetch_add(1, Ordering::SeqCst);
                shared.state.send_if_modified(|state| {
                    let was_authenticated = matches!(state, State::Authenticated(_));
                    if was_authenticated {
                        *state = State::Connecting;
                    }
                    was_authenticated
                });
            }
            .boxed()
        });
        let on_authenticated = shared.clone();
        builder = builder.on(EVENT_AUTHENTICATED, move |payload, _| {
            let shared = on_authenticated.clone();
            async move { shared.on_authenticated(first_arg(&payload)) }.boxed()
        });
        let on_unauthorized = shared.clone();
        builder = builder.on(EVENT_UNAUTHORIZED, move |payload, _| {
            let shared = on_unauthorized.clone();
            async move {
                let err =
                    serde_json::from_value::<AuthError>(first_arg(&payload)).unwrap_or(AuthError {
                        code: "invalid_token".into(),
                        message: "refused".into(),
                    });
                shared.on_refused(err).await;
            }
            .boxed()
        });
        let on_error = shared.clone();
        builder = builder.on(Event::Error, move |payload, _| {
            let shared = on_error.clone();
            async move {
                let text = payload_text(&payload);
                if refusal_code(&text) == Some(SERVER_BUSY) {
                    shared.wait_and_retry();
                } else if let Some(code) = refusal_code(&text) {
                    shared
                        .on_refused(AuthError {
                            code: code.to_owned(),
                            message: format!("the server refused the connection: {code}"),
                        })
                        .await;
                } else {
                    tracing::debug!(error = %text, "socket.io client error");
                }
            }
            .boxed()
        });
        let on_expiring = shared.clone();
        builder = builder.on(EVENT_TOKEN_EXPIRING, move |_, _| {
            let shared = on_expiring.clone();
            async move {
                // The server's push: refresh now, whatever our own timer says (one at a time,
                // within the rolling minute's allowance).
                if !shared.refreshing.swap(true, Ordering::SeqCst) {
                    if !shared.refresh_slot().is_zero() {
                        shared.refreshing.store(false, Ordering::SeqCst);
                        return;
                    }
                    tokio::spawn(async move {
                        if let Err(e) = shared.refresh().await {
                            tracing::warn!(error = %e, "token refresh on token_expiring failed");
                        }
                        shared.refreshing.store(false, Ordering::SeqCst);
                    });
                }
            }
            .boxed()
        });
        for (event, handler) in &self.handlers {
            let handler = handler.clone();
            builder = builder.on(event.as_str(), move |payload, _| {
                (handler.lock().unwrap_or_else(|e| e.into_inner()))(first_arg(&payload));
                async {}.boxed()
            });
        }

        let client = builder.connect().await?;
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
        Ok(client)
    }

    /// After a refusal with a new token at hand: close the refused connection (no reconnect of
    /// its own) and open a new one, which sends the new token.
    fn restart(self: Arc<Self>) -> BoxFuture<'static, ()> {
        async move { self.restart_now().await }.boxed()
    }

    async fn restart_now(self: Arc<Self>) {
        let old = self.client.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(old) = old {
            let _ = old.disconnect().await;
        }
        if let Err(e) = self.open(TokenRequest::Reconnect).await {
            tracing::warn!(error = %e, "could not reconnect with the new token");
            self.state.send_replace(State::Refused(AuthError {
                code: "credentials_required".into(),
                message: format!("could not reconnect with a new token: {e}"),
            }));
        }
    }

    /// The token for a (re)connection: the one fetched after a refusal, else the source's.
    async fn current_token(&self, request: TokenRequest) -> Result<String, Error> {
        let next = self
            .next_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let token = match next {
            Some(token) => token,
            None => self.token.get(request).await?,
        };
        *self.last_token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// `server_busy` is not a refusal: wait (exponential backoff, full jitter), in the visible
    /// waiting state, then open a new connection. Nothing outlives a `disconnect()`: the retry
    /// checks the state first.
    fn wait_and_retry(self: &Arc<Self>) {
        let attempt = self.busy_retries.fetch_add(1, Ordering::SeqCst);
        self.state.send_replace(State::Waiting);
        let delay = busy_backoff(attempt);
        tracing::info!(
            ?delay,
            "the server is busy: connecting again after a backoff"
        );
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if matches!(&*this.state.borrow(), State::Waiting) {
                this.state.send_replace(State::Connecting);
                this.restart().await;
            }
        });
    }

    /// `unauthorized`: fetch a new token when that can help (the reconnect that follows the
    /// server's disconnect uses it), else settle in the refused state.
    async fn on_refused(self: &Arc<Self>, err: AuthError) {
        let recoverable = RECOVERABLE_CODES.contains(&err.code.as_str());
        if self.recover
            && recoverable
            && self.recoveries.load(Ordering::SeqCst) < self.max_recoveries
        {
            let request = if err.code == "revoked" {
                TokenRequest::Revoked
            } else {
                TokenRequest::Expired
            };
            if let Ok(token) = self.token.get(request).await {
                let last = self.last_token.lock().unwrap_or_else(|e| e.into_inner());
                if last.as_deref() != Some(token.as_str()) {
                    drop(last);
                    self.recoveries.fetch_add(1, Ordering::SeqCst);
                    *self.next_token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
                    self.state.send_replace(State::Connecting);
                    tokio::spawn(self.clone().restart());
                    return;
                }
            }
        }
        self.state.send_replace(State::Refused(err));
    }

    async fn on_connect(self: Arc<Self>, client: Client) {
        let request = {
            let mut before = self
                .connected_before
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let request = if *before {
                TokenRequest::Reconnect
            } else {
                TokenRequest::Connect
            };
            *before = true;
            request
        };
        self.refresh_generation.fetch_add(1, Ordering::SeqCst);
        if !matches!(&*self.state.borrow(), State::Refused(_)) {
            self.state.send_replace(State::Connecting);
        }
        if self.mode == Mode::Message {
            match self.current_token(request).await {
                Ok(token) => {
                    if let Err(e) = client.emit(EVENT_AUTHENTICATE, token_payload(token)).await {
                        tracing::warn!(error = %e, "could not send authenticate");
                    }
                }
                Err(e) => {
                    self.state.send_replace(State::Refused(AuthError {
                        code: "credentials_required".into(),
                        message: e.to_string(),
                    }));
                }
            }
        }
    }

    fn on_authenticated(self: Arc<Self>, payload: Value) {
        let info: AuthenticatedInfo = serde_json::from_value(payload).unwrap_or_default();
        self.recoveries.store(0, Ordering::SeqCst);
        self.busy_retries.store(0, Ordering::SeqCst);
        self.state.send_replace(State::Authenticated(info.clone()));
        let generation = self.refresh_generation.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(delay) = refresh_delay(&info, self.refresh_margin, unix_now()) else {
            return;
        };
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let current = || self.refresh_generation.load(Ordering::SeqCst) == generation;
            if !current() {
                // A later `authenticated` (a refresh, a reconnect) scheduled its own.
                return;
            }
            // At most MAX_REFRESHES_PER_MINUTE: wait for the window when it is full.
            let wait = self.refresh_slot();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                if !current() {
                    return;
                }
                self.refresh_slot();
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "token refresh failed");
            }
        });
    }

    /// Takes a place in the rolling minute of refreshes: zero if one was free (and it is taken),
    /// else how long until the oldest leaves the window.
    fn refresh_slot(&self) -> Duration {
        let now = tokio::time::Instant::now();
        let mut times = self.refresh_times.lock().unwrap_or_else(|e| e.into_inner());
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            times.pop_front();
        }
        if times.len() >= MAX_REFRESHES_PER_MINUTE {
            return times.front().map_or(Duration::ZERO, |t| {
                Duration::from_secs(60) - now.duration_since(*t)
            });
        }
        times.push_back(now);
        Duration::ZERO
    }

    async fn refresh(&self) -> Result<(), Error> {
        let token = self.token.get(TokenRequest::Refresh).await?;
        *self.last_token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        let client = self
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(client) = client {
            client
                .emit(EVENT_AUTHENTICATE, token_payload(token))
                .await?;
        }
        Ok(())
    }
}

/// An authenticated connection.
pub struct AuthClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClient")
            .field("info", &self.info())
            .finish_non_exhaustive()
    }
}

impl AuthClient {
    /// The current rust_socketio client (a new one after a recovery).
    fn client(&self) -> Option<Client> {
        self.shared
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What the server confirmed last, if the client is authenticated right now.
    pub fn info(&self) -> Option<AuthenticatedInfo> {
        match &*self.shared.state.borrow() {
            State::Authenticated(info) => Some(info.clone()),
            _ => None,
        }
    }

    /// Whether the client is waiting to connect again after the server said `server_busy`.
    pub fn is_waiting(&self) -> bool {
        matches!(&*self.shared.state.borrow(), State::Waiting)
    }

    /// Why the server refused the client, if it did.
    pub fn refusal(&self) -> Option<AuthError> {
        match &*self.shared.state.borrow() {
            State::Refused(err) => Some(err.clone()),
            _ => None,
        }
    }

    /// Waits until the client is authenticated (again, after a reconnect), at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Refused`] or [`Error::Timeout`].
    pub async fn authenticated(&self, timeout: Duration) -> Result<AuthenticatedInfo, Error> {
        settled(self.shared.state.subscribe(), timeout).await
    }

    /// Emits `event` with `data`.
    ///
    /// # Errors
    /// A transport error.
    pub async fn emit<T: Serialize>(&self, event: &str, data: T) -> Result<(), Error> {
        let data = serde_json::to_value(data).map_err(Error::Ack)?;
        self.client()
            .ok_or(Error::Closed)?
            .emit(event, data)
            .await?;
        Ok(())
    }

    /// Emits `event` with `data` and returns the server's ack, deserialized.
    ///
    /// # Errors
    /// [`Error::Timeout`] without an ack in time, [`Error::Ack`] if it does not deserialize.
    pub async fn emit_with_ack<T: Serialize, R: DeserializeOwned>(
        &self,
        event: &str,
        data: T,
        timeout: Duration,
    ) -> Result<R, Error> {
        let data = serde_json::to_value(data).map_err(Error::Ack)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        self.client()
            .ok_or(Error::Closed)?
            .emit_with_ack(event, data, timeout, move |payload, _| {
                if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    let _ = tx.send(unwrap_ack(&payload));
                }
                async {}.boxed()
            })
            .await?;
        let value = tokio::time::timeout(timeout, rx)
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(|_| Error::Timeout)?;
        serde_json::from_value(value).map_err(Error::Ack)
    }

    /// Refreshes the token in-band now (the server answers `authenticated` again).
    ///
    /// # Errors
    /// The token source's or the transport's error.
    pub async fn refresh(&self) -> Result<(), Error> {
        self.shared.refresh().await
    }

    /// Closes the connection.
    ///
    /// # Errors
    /// A transport error.
    pub async fn disconnect(self) -> Result<(), Error> {
        self.shared
            .refresh_generation
            .fetch_add(1, Ordering::SeqCst);
        let client = self
            .shared
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(client) = client {
            client.disconnect().await?;
        }
        Ok(())
    }
}

/// rust_socketio hands ack arguments as a list (sometimes nested once more): the first argument.
fn unwrap_ack(payload: &Payload) -> Value {
    let mut value = first_arg(payload);
    while let Value::Array(items) = &value {
        match items.as_slice() {
            [single] => value = single.clone(),
            _ => break,
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusal_codes_are_read_from_connect_errors() {
        assert_eq!(
            refusal_code(r#"Received an ConnectError frame: {"message":"invalid_token"}"#),
            Some("invalid_token")
        );
        assert_eq!(refusal_code("websocket error"), None);
    }

    /// A clock 10 minutes ahead (or behind) does not move the refresh: the server's time left
    /// counts. Without it, a clock ahead by more than the lifetime would refresh every 500 ms.
    #[test]
    fn the_refresh_follows_the_servers_clock() {
        let margin = Duration::from_secs(60);
        let true_now = 1_800_000_000;
        let info = AuthenticatedInfo {
            sub: Some("dora".into()),
            exp: Some(true_now + 8),
            expires_in_ms: Some(8_000),
        };
        for skew in [0, 600, -600i64] {
            let local_now = true_now.saturating_add_signed(skew);
            assert_eq!(
                refresh_delay(&info, margin, local_now),
                Some(Duration::from_secs(4)),
                "skew {skew} s"
            );
        }
        let old_server = AuthenticatedInfo {
            expires_in_ms: None,
            ..info.clone()
        };
        assert_eq!(
            refresh_delay(&old_server, margin, true_now + 600),
            Some(Duration::from_millis(500)),
            "without the server's time, a skewed clock falls to the floor"
        );
        assert_eq!(
            refresh_delay(&AuthenticatedInfo::default(), margin, true_now),
            None
        );
    }

    #[test]
    fn busy_backoff_grows_with_jitter_and_a_ceiling() {
        for attempt in 0..20 {
            let delay = busy_backoff(attempt);
            assert!(delay >= BUSY_BACKOFF_MIN / 2, "{attempt}: {delay:?}");
            assert!(delay <= BUSY_BACKOFF_MAX, "{attempt}: {delay:?}");
            let ceiling = BUSY_BACKOFF_MIN
                .saturating_mul(1 << attempt.min(10))
                .min(BUSY_BACKOFF_MAX);
            assert!(delay <= ceiling, "{attempt}: {delay:?} > {ceiling:?}");
        }
    }

    #[test]
    fn acks_are_unwrapped() {
        let payload = Payload::Text(vec![json!([{"sub": "alice"}])]);
        assert_eq!(unwrap_ack(&payload), json!({"sub": "alice"}));
    }
}
