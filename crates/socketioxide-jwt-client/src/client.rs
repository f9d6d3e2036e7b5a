//! The public face: [`AuthClientBuilder`] and [`AuthClient`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use rust_socketio::Payload;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::driver::{first_arg, Clock, Connection, Driver, Handler, Snapshot};
use crate::error::Error;
use crate::machine::{Input, Machine, Mode, Refusal, Rules, State};
use crate::protocol::{rules, AuthenticatedPayload, EventNames};
use crate::token::{TokenError, TokenSource};

/// Builds an [`AuthClient`].
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use socketioxide_jwt_client::{AuthClientBuilder, Mode, TokenSource};
///
/// # async fn run() -> Result<(), socketioxide_jwt_client::Error> {
/// let client = AuthClientBuilder::new("http://127.0.0.1:3000")
///     .mode(Mode::Handshake)
///     .token(TokenSource::Static("header.payload.signature".into()))
///     .refresh_margin(Duration::from_secs(30))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct AuthClientBuilder {
    url: String,
    namespace: String,
    mode: Mode,
    token: Option<TokenSource>,
    refresh_margin: Duration,
    timeout: Duration,
    reconnect: bool,
    max_recoveries: Option<u32>,
    events: EventNames,
    handlers: Vec<(String, Handler)>,
    clock: Clock,
}

impl std::fmt::Debug for AuthClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClientBuilder")
            .field("url", &self.url)
            .field("namespace", &self.namespace)
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
            refresh_margin: rules::DEFAULT_REFRESH_MARGIN,
            timeout: rules::DEFAULT_ACK_TIMEOUT,
            reconnect: true,
            max_recoveries: Some(rules::DEFAULT_MAX_RECOVERIES),
            events: EventNames::default(),
            handlers: Vec::new(),
            clock: Arc::new(SystemTime::now),
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

    /// How long [`connect`](Self::connect) and [`AuthClient::refresh`] wait for `authenticated`.
    /// Defaults to 10 s.
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
    /// token ([`TokenRequest::Expired`](crate::TokenRequest::Expired) /
    /// [`Revoked`](crate::TokenRequest::Revoked)) and reconnect with it, at most
    /// `max_recoveries` times in a row (defaults: on, 3). A source that returns the refused token
    /// again, fails, or is refused that often ends in the refused state (see
    /// [`AuthClient::refusal`]) and the client stops: never a loop with a stale token. Any other
    /// refusal ends there at once. The same holds for a handshake refused with those codes. The
    /// new token goes out on a new connection.
    pub fn recover(mut self, recover: bool, max_recoveries: u32) -> Self {
        self.max_recoveries = recover.then_some(max_recoveries);
        self
    }

    /// The event names, for a server that renamed them. Defaults to the contract's.
    pub fn event_names(mut self, events: EventNames) -> Self {
        self.events = events;
        self
    }

    /// The wall clock the client reads a token's `exp` with, for servers that do not send the
    /// time left (`expires_in_ms`); nothing else depends on it. Defaults to
    /// [`SystemTime::now`]. For tests of devices whose clock is wrong.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Calls `handler` with the first argument of every `event`.
    pub fn on(
        mut self,
        event: impl Into<String>,
        handler: impl FnMut(Value) + Send + Sync + 'static,
    ) -> Self {
        self.handlers
            .push((event.into(), Arc::new(Mutex::new(Box::new(handler)))));
        self
    }

    /// Connects and authenticates; returns once the server said `authenticated`.
    ///
    /// # Errors
    /// [`Error::Refused`] with the server's code, [`Error::Token`] when the token source failed,
    /// [`Error::Timeout`] (also when the server cannot be reached: the client tries again with a
    /// backoff until the timeout).
    pub async fn connect(self) -> Result<AuthClient, Error> {
        let token = self
            .token
            .ok_or_else(|| Error::Token(TokenError::msg("no token source configured")))?;
        let rules = Rules {
            mode: self.mode,
            refresh_margin: self.refresh_margin,
            max_recoveries: self.max_recoveries,
            reconnect: self.reconnect,
        };
        let connection = Connection {
            url: self.url,
            namespace: self.namespace,
            mode: self.mode,
            reconnect: self.reconnect,
            ack_timeout: self.timeout,
            events: self.events,
            handlers: self.handlers,
        };
        let driver = Driver::new(Machine::new(rules), token, connection, self.clock);
        let client = AuthClient {
            driver,
            timeout: self.timeout,
        };
        let rx = client.driver.subscribe();
        client.driver.step(Input::Start);
        match client.settle(rx, None, client.timeout).await {
            Ok(_) => Ok(client),
            Err(e) => {
                client.driver.step(Input::Close);
                client.driver.shutdown().await;
                Err(e)
            }
        }
    }
}

/// An authenticated connection.
pub struct AuthClient {
    driver: Arc<Driver>,
    timeout: Duration,
}

impl std::fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClient")
            .field("state", &self.driver.snapshot().state)
            .finish_non_exhaustive()
    }
}

impl AuthClient {
    /// Waits, at most `timeout`, until the state is `Authenticated` (its info), or `Refused` /
    /// `Closed`. With a `baseline`, only an `authenticated` after it counts, and a token source
    /// failure after it ends the wait.
    async fn settle(
        &self,
        mut rx: watch::Receiver<Snapshot>,
        baseline: Option<&Snapshot>,
        timeout: Duration,
    ) -> Result<AuthenticatedPayload, Error> {
        let wait = async {
            loop {
                let snapshot = rx.borrow_and_update().clone();
                let fresh = baseline.is_none_or(|b| snapshot.authentications > b.authentications);
                let token_failed =
                    baseline.is_some_and(|b| snapshot.token_failures > b.token_failures);
                match snapshot.state {
                    State::Authenticated { info, .. } if fresh => return Ok(info),
                    State::Refused(Refusal::Server(err)) => return Err(Error::Refused(err)),
                    State::Refused(Refusal::Token(e)) => return Err(Error::Token(e)),
                    State::Closed => return Err(Error::Closed),
                    _ if token_failed => {
                        return Err(snapshot.token_error.map_or(Error::Timeout, Error::Token));
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(Error::Closed);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// What the server confirmed last, if the client is authenticated right now.
    pub fn info(&self) -> Option<AuthenticatedPayload> {
        match self.driver.snapshot().state {
            State::Authenticated { info, .. } => Some(info),
            _ => None,
        }
    }

    /// Whether the client is waiting to connect again (after `server_busy`, a connection that
    /// could not be opened, or the server closing it).
    pub fn is_waiting(&self) -> bool {
        matches!(self.driver.snapshot().state, State::Waiting)
    }

    /// Why the client stopped for good, if it did: the server's refusal, or the token source's
    /// failure.
    pub fn refusal(&self) -> Option<Refusal> {
        match self.driver.snapshot().state {
            State::Refused(refusal) => Some(refusal),
            _ => None,
        }
    }

    /// Waits until the client is authenticated (again, after a reconnect), at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Refused`], [`Error::Closed`] or [`Error::Timeout`].
    pub async fn authenticated(&self, timeout: Duration) -> Result<AuthenticatedPayload, Error> {
        self.settle(self.driver.subscribe(), None, timeout).await
    }

    /// Refreshes the token in-band now and waits until the server confirms it (`authenticated`,
    /// whose info it returns), at most the builder's timeout. A refresh already under way (on
    /// the client's timer or the server's `token_expiring`) is joined, not doubled; past 8
    /// refreshes in a minute it waits for the window.
    ///
    /// # Errors
    /// [`Error::Refused`] (the client recovers as [`AuthClientBuilder::recover`] says, or stops),
    /// [`Error::Token`], [`Error::Closed`] or [`Error::Timeout`].
    pub async fn refresh(&self) -> Result<AuthenticatedPayload, Error> {
        let rx = self.driver.subscribe();
        let baseline = rx.borrow().clone();
        self.driver.step(Input::RefreshRequested);
        self.settle(rx, Some(&baseline), self.timeout).await
    }

    /// Emits `event` with `data`.
    ///
    /// # Errors
    /// [`Error::Closed`] or a transport error.
    pub async fn emit<T: Serialize>(&self, event: &str, data: T) -> Result<(), Error> {
        let data = serde_json::to_value(data).map_err(Error::Ack)?;
        let client = self.driver.client().await.ok_or(Error::Closed)?;
        client.emit(event, data).await?;
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
        let client = self.driver.client().await.ok_or(Error::Closed)?;
        client
            .emit_with_ack(event, data, timeout, move |payload, _| {
                let sender = tx.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(tx) = sender {
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

    /// Closes the connection; every task of the client ends with it.
    ///
    /// # Errors
    /// None today; kept for transport errors.
    pub async fn disconnect(self) -> Result<(), Error> {
        self.driver.step(Input::Close);
        self.driver.shutdown().await;
        Ok(())
    }
}

impl Drop for AuthClient {
    fn drop(&mut self) {
        // Dropped without `disconnect()`: its tasks end all the same.
        self.driver.step(Input::Close);
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
    fn acks_are_unwrapped() {
        let payload = Payload::Text(vec![json!([{"sub": "alice"}])]);
        assert_eq!(unwrap_ack(&payload), json!({"sub": "alice"}));
    }
}
