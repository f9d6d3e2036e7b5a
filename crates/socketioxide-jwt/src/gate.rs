//! The socketioxide integration: admitting a socket, the `authenticate` event, going live,
//! refusing, and the per-socket deadline timer.
//!
//! Soundness rests on three facts of socketioxide 0.18:
//! 1. A connect middleware runs before the socket is added to its namespace, so joining
//!    [`PENDING_ROOM`] there leaves no window in which a broadcast could reach it (and
//!    [`JwtAdapter`](crate::JwtAdapter) excludes that room from every broadcast).
//! 2. Events without a handler are dropped. The application's handlers are registered by its
//!    connect handler, which this gate calls only once the socket is authenticated; until then
//!    the only handler is `authenticate`, registered in the middleware before the client can speak.
//! 3. Socket extensions live as long as the socket; the session (and so its timer) goes with it.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};
use socketioxide::handler::{ConnectHandler, FromConnectParts, FromMessageParts, MessageHandler};
use std::marker::PhantomData;
use std::task::{Context, Poll, Waker};

use crate::handler::AuthenticatedHandler;
use crate::keys::BoxFuture;
use socketioxide::socket::Socket;
use socketioxide_core::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::adapter::GatedAdapter;
use crate::config::{AuthMode, JwtAuth, AUTHENTICATE_PAYLOAD_OVERHEAD};
use crate::error::{AuthError, ErrorCode, SERVER_BUSY};
use crate::protocol::PENDING_ROOM;
use crate::session::{Outcome, Session, SessionState};
use crate::token::{self, Verified};

type MiddlewareFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn Display + Send>>> + Send + 'a>>;

/// A connect handler that runs the application's handler only for authenticated sockets.
///
/// Made by [`JwtAuth::on_authenticated`]; give it to `io.ns` or `io.dyn_ns`. For checks that
/// may refuse a socket, use [`JwtAuthBuilder::check`](crate::JwtAuthBuilder::check).
pub struct OnAuthenticated<C, H> {
    auth: JwtAuth<C>,
    handler: H,
}

impl<C, H: Clone> Clone for OnAuthenticated<C, H> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
            handler: self.handler.clone(),
        }
    }
}

impl<C, H> std::fmt::Debug for OnAuthenticated<C, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnAuthenticated")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<C> JwtAuth<C>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Wraps the application's connect handler so that it runs only once the socket is
    /// authenticated. Until then the socket is inert: its events reach no handler and no
    /// broadcast reaches it.
    ///
    /// The handler is an async function taking up to 8 socketioxide connect extractors, plus
    /// [`Claims`](crate::Claims) (see [`AuthenticatedHandler`]). It runs up to its first pending
    /// `.await` before `authenticated` is emitted, so the event handlers it registers there are
    /// live when the client hears `authenticated`.
    ///
    /// # Example
    /// ```
    /// use socketioxide::{adapter::LocalAdapter, extract::SocketRef, SocketIo};
    /// use socketioxide_jwt::{Claims, JwtAdapter, JwtAuth, StandardClaims};
    ///
    /// type Adapter = JwtAdapter<LocalAdapter>;
    /// let auth = JwtAuth::builder().hmac_secret(b"a-32-byte-long-secret-for-hs256!").build()?;
    /// let (_layer, io) = SocketIo::builder().with_adapter::<Adapter>(()).build_layer();
    /// io.ns("/", auth.on_authenticated(
    ///     async |socket: SocketRef<Adapter>, Claims(claims): Claims<StandardClaims>| {
    ///         socket.on("whoami", async |Claims(c): Claims<StandardClaims>, ack: socketioxide::extract::AckSender<Adapter>| {
    ///             ack.send(&*c).ok();
    ///         });
    ///         println!("{:?} is here", claims.sub);
    ///     },
    /// ));
    /// // Dynamic namespaces are gated the same way.
    /// io.dyn_ns("/tenant/{id}", auth.on_authenticated(async |_: SocketRef<Adapter>| {}))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_authenticated<H>(&self, handler: H) -> OnAuthenticated<C, H> {
        OnAuthenticated {
            auth: self.clone(),
            handler,
        }
    }
}

/// The session of a socket, if it was admitted by a gate with claims type `C`.
pub(crate) fn session_of<C, A>(s: &Socket<A>) -> Option<Arc<Session<C>>>
where
    C: Send + Sync + 'static,
    A: Adapter,
{
    s.extensions.get::<Arc<Session<C>>>()
}

use crate::session::wall_clock;

#[derive(Serialize)]
struct AuthenticatedPayload<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
}

#[derive(Serialize)]
struct AckOk {
    ok: bool,
}

impl<C, H> OnAuthenticated<C, H>
where
    C: DeserializeOwned + Send + Sync + 'static,
{
    /// Signature, claims, then the application's check (as [`JwtAuth::verify`], keeping the
    /// registered claims).
    async fn verify(&self, token: &str) -> Result<Verified<C>, AuthError> {
        let verified = token::verify::<C>(&self.auth.inner.settings, token).await?;
        if let Some(check) = &self.auth.inner.check {
            check(verified.claims.clone()).await?;
        }
        Ok(verified)
    }

    fn finish(&self, session: &Session<C>, result: Result<Verified<C>, AuthError>) -> Outcome {
        let leeway = self.auth.inner.settings.leeway;
        session.update(|st| st.finish_verification(result, Instant::now(), wall_clock(), leeway))
    }

    /// The connect middleware: joins the pending room, installs the session, the `authenticate`
    /// handler and the timer, then verifies a handshake token if the mode reads one.
    async fn admit<A, T>(
        &self,
        s: Arc<Socket<A>>,
        auth: &Option<Value>,
    ) -> Result<(), Box<dyn Display + Send>>
    where
        A: GatedAdapter,
        H: AuthenticatedHandler<A, T>,
        T: 'static,
    {
        let settings = &self.auth.inner.settings;
        let now = Instant::now();
        let client_ip = settings.client_ip.as_ref().and_then(|f| f(s.req_parts()));
        if let (Some(failures), Some(ip)) = (&settings.failures, client_ip) {
            if failures.is_blocked(ip, now) {
                let err = AuthError::forbidden("too many failed authentications; retry later");
                return Err(reject(&s, &self.auth, None, err));
            }
        }
        let Some(permit) = settings.pending.try_acquire(settings.max_pending) else {
            tracing::warn!(sid = %s.id, ns = s.ns(), max = settings.max_pending, "too many pending sockets: connection refused");
            return Err(Box::new(SERVER_BUSY));
        };
        s.join(PENDING_ROOM);
        let (session, deadline_rx) = Session::new(
            SessionState::pending(now, settings.timeout),
            permit,
            client_ip,
            now,
        );
        s.extensions.insert(session.clone());
        s.on::<_, ViaAuthenticated<T>>(
            settings.events.authenticate.clone(),
            AuthenticateHandler { gate: self.clone() },
        );
        tokio::spawn(run_deadline_timer(
            Arc::downgrade(&s),
            Arc::downgrade(&session),
            deadline_rx,
            self.auth.clone(),
        ));

        if !settings.mode.reads_handshake() {
            return Ok(());
        }
        let token = match handshake_token(&s, auth, settings.allow_query_token) {
            Ok(Some(token)) => token,
            Ok(None) if settings.mode == AuthMode::Either => return Ok(()),
            Ok(None) => {
                let err = ErrorCode::CredentialsRequired.into();
                return Err(reject(&s, &self.auth, Some(&session), err));
            }
            Err(e) => return Err(reject(&s, &self.auth, Some(&session), e)),
        };
        session.update(|st| st.try_begin_verification());
        let result = self.verify(&token).await;
        match self.finish(&session, result) {
            Outcome::FirstAuthentication => Ok(()),
            Outcome::Refused(e) => Err(reject(&s, &self.auth, Some(&session), e)),
            Outcome::Refreshed | Outcome::Ignored => {
                let err = AuthError::new(ErrorCode::Timeout);
                Err(reject(&s, &self.auth, Some(&session), err))
            }
        }
    }

    /// Authenticated for the first time: leave the pending room, join the user's room, run the
    /// application's handler up to its first pending `.await`, then tell the client.
    ///
    /// `from` says where it is called from: the application's handler may only be polled here
    /// from the connect handler (see [`Caller`]).
    fn go_live<A, T>(
        &self,
        s: Arc<Socket<A>>,
        session: Arc<Session<C>>,
        auth: Option<Value>,
        from: Caller,
    ) where
        A: Adapter,
        H: AuthenticatedHandler<A, T>,
    {
        let registered = session
            .read(|st| st.registered().cloned())
            .unwrap_or_default();
        session.release_pending();
        s.leave(PENDING_ROOM);
        if let Some(room) = registered
            .sub
            .as_deref()
            .and_then(|sub| self.auth.user_room(sub))
        {
            s.join(room);
        }
        tracing::info!(sid = %s.id, ns = s.ns(), sub = registered.sub.as_deref(), "socket authenticated");
        if !self.track_revocation(&s, &session, &registered) {
            return;
        }
        let handler = match self.handler.call(s.clone(), auth) {
            Ok(handler) => Some(handler),
            Err(e) => {
                tracing::error!(sid = %s.id, error = %e, "the authenticated handler's arguments could not be extracted; it was not called");
                None
            }
        };
        if from == Caller::ConnectHandler {
            // Nothing is locked here: run the handler to its first pending `.await` at once,
            // and spawn a task only if it waits.
            let rest = handler.and_then(poll_once);
            self.emit_authenticated(&s, &session);
            if let Some(rest) = rest {
                tokio::spawn(rest);
            }
            return;
        }
        // A task of its own, never polled here: a message handler called us, and socketioxide
        // holds the socket's handler map locked meanwhile, where the application's handler
        // registers its handlers.
        let gate = self.clone();
        tokio::spawn(async move {
            let mut handler = handler;
            let pending = match handler.as_mut() {
                Some(fut) => {
                    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
                }
                None => false,
            };
            gate.emit_authenticated(&s, &session);
            drop(s);
            if let (true, Some(fut)) = (pending, handler) {
                fut.await;
            }
        });
    }

    /// Puts the socket in the revocation list, so a revocation reaches it while connected. A
    /// revocation that arrived between verification and now is caught by the second check
    /// (then the socket is refused and `false` returned).
    fn track_revocation<A: Adapter>(
        &self,
        s: &Arc<Socket<A>>,
        session: &Arc<Session<C>>,
        registered: &crate::claims::RegisteredClaims,
    ) -> bool {
        let Some(list) = &self.auth.inner.settings.revocations else {
            return true;
        };
        let (socket, weak_session, auth) = (
            Arc::downgrade(s),
            Arc::downgrade(session),
            self.auth.clone(),
        );
        let ticket = list.track(
            registered,
            Box::new(move |err| {
                if let (Some(s), Some(session)) = (socket.upgrade(), weak_session.upgrade()) {
                    refuse(s, &err, None, &auth, &session);
                }
            }),
        );
        session.set_revocation_ticket(ticket);
        if list.is_revoked(registered) {
            refuse(s.clone(), &AuthError::revoked(), None, &self.auth, session);
            return false;
        }
        true
    }

    fn emit_authenticated<A: Adapter>(&self, s: &Socket<A>, session: &Session<C>) {
        let registered = session
            .read(|st| st.registered().cloned())
            .unwrap_or_default();
        let payload = AuthenticatedPayload {
            sub: registered.sub.as_deref(),
            exp: registered.exp,
        };
        if let Err(e) = s.emit(&self.auth.inner.settings.events.authenticated, &payload) {
            tracing::debug!(sid = %s.id, error = %e, "could not emit authenticated");
        }
    }

    /// Message mode (and refresh in every mode): one `authenticate` event, verified off the
    /// socket's read loop.
    async fn authenticate<A, T>(
        self,
        s: Arc<Socket<A>>,
        session: Arc<Session<C>>,
        payload: Option<serde_json::Value>,
        ack: AckSender<A>,
    ) where
        A: Adapter,
        H: AuthenticatedHandler<A, T>,
    {
        let result = match token::token_from_message(payload.as_ref()) {
            Ok(token) => self.verify(token).await,
            Err(e) => Err(e),
        };
        match self.finish(&session, result) {
            Outcome::FirstAuthentication => {
                let _ = ack.send(&AckOk { ok: true });
                self.go_live(s, session, None, Caller::MessageHandler);
            }
            Outcome::Refreshed => {
                let _ = ack.send(&AckOk { ok: true });
                let registered = session
                    .read(|st| st.registered().cloned())
                    .unwrap_or_default();
                session.update_revocation_ticket(&registered);
                tracing::info!(sid = %s.id, ns = s.ns(), sub = registered.sub, "token refreshed");
                self.emit_authenticated(&s, &session);
            }
            Outcome::Refused(err) => refuse(s, &err, Some(ack), &self.auth, &session),
            Outcome::Ignored => {}
        }
    }
}

fn handshake_token<A: Adapter>(
    s: &Arc<Socket<A>>,
    auth: &Option<Value>,
    allow_query: bool,
) -> Result<Option<String>, AuthError> {
    let payload = match TryData::<serde_json::Value>::from_connect_parts(s, auth) {
        Ok(TryData(payload)) => payload.ok(),
        Err(never) => match never {},
    };
    token::token_from_handshake(payload.as_ref(), s.req_parts(), allow_query)
}

/// Logs a handshake refusal; the error's `Display` (the bare code) becomes `connect_error`.
fn reject<A: Adapter, C>(
    s: &Socket<A>,
    auth: &JwtAuth<C>,
    session: Option<&Session<C>>,
    err: AuthError,
) -> Box<dyn Display + Send> {
    log_refusal(s, &err, session.and_then(|s| s.client_ip));
    if let Some(session) = session {
        count_failure(auth, session);
    }
    Box::new(err)
}

fn log_refusal<A: Adapter>(s: &Socket<A>, err: &AuthError, ip: Option<std::net::IpAddr>) {
    let reason = std::error::Error::source(err).map(ToString::to_string);
    let ip = ip.map(|ip| ip.to_string());
    tracing::info!(sid = %s.id, ns = s.ns(), code = %err.code(), reason, ip, "socket refused");
}

/// Counts a refusal against the client's IP, when per-IP limiting is on.
fn count_failure<C>(auth: &JwtAuth<C>, session: &Session<C>) {
    if let (Some(failures), Some(ip)) = (&auth.inner.settings.failures, session.client_ip) {
        if failures.record_failure(ip, Instant::now()) {
            tracing::warn!(%ip, "too many failed authentications: IP cooling down");
        }
    }
}

/// Closes the session, sends the error (through the ack if one was asked, and as the
/// `unauthorized` event), then disconnects. Never waits for the client. Every refusal but an
/// expiry counts against the IP.
fn refuse<A: Adapter, C>(
    s: Arc<Socket<A>>,
    err: &AuthError,
    ack: Option<AckSender<A>>,
    auth: &JwtAuth<C>,
    session: &Session<C>,
) {
    log_refusal(&s, err, session.client_ip);
    session.update(SessionState::close);
    session.release_pending();
    if err.code() != ErrorCode::TokenExpired {
        count_failure(auth, session);
    }
    let object = err.to_object();
    if let Some(ack) = ack {
        let _ = ack.send(&object);
    }
    let _ = s.emit(&auth.inner.settings.events.unauthorized, &object);
    let _ = s.disconnect();
}

/// The marker of [`OnAuthenticated`]'s `ConnectHandler` impl (keeps it `Send + Sync` whatever
/// the extractors are).
#[derive(Debug)]
pub struct ViaAuthenticated<T>(PhantomData<fn() -> T>);

impl<A, T, C, H> ConnectHandler<A, ViaAuthenticated<T>> for OnAuthenticated<C, H>
where
    A: GatedAdapter,
    H: AuthenticatedHandler<A, T>,
    T: 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, auth: Option<Value>) {
        let Some(session) = session_of::<C, A>(&s) else {
            tracing::error!(sid = %s.id, "socket connected without a session; disconnecting");
            let _ = s.disconnect();
            return;
        };
        // Handshake mode verified the token in the middleware; message mode goes live later.
        if session.read(SessionState::is_authenticated) {
            self.go_live(s, session, auth, Caller::ConnectHandler);
        }
    }

    fn call_middleware<'a>(
        &'a self,
        s: Arc<Socket<A>>,
        auth: &'a Option<Value>,
    ) -> MiddlewareFuture<'a> {
        Box::pin(self.admit(s, auth))
    }
}

/// The `authenticate` event handler, registered before the client can speak.
struct AuthenticateHandler<C, H> {
    gate: OnAuthenticated<C, H>,
}

impl<A, T, C, H> MessageHandler<A, ViaAuthenticated<T>> for AuthenticateHandler<C, H>
where
    A: Adapter,
    H: AuthenticatedHandler<A, T>,
    T: 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
        let ack = match AckSender::from_message_parts(&s, &mut v, &ack_id) {
            Ok(ack) => ack,
            Err(never) => match never {},
        };
        let Some(session) = session_of::<C, A>(&s) else {
            return;
        };
        let settings = &self.gate.auth.inner.settings;
        if !session.record_attempt(Instant::now(), settings.max_auth_attempts_per_minute) {
            let err = AuthError::forbidden("too many authentication attempts");
            return refuse(s, &err, Some(ack), &self.gate.auth, &session);
        }
        // Refuse an oversized payload before parsing it.
        if v.len() > settings.max_token_len + AUTHENTICATE_PAYLOAD_OVERHEAD {
            let err = AuthError::new(ErrorCode::InvalidToken)
                .with_source("authenticate payload too large");
            return refuse(s, &err, Some(ack), &self.gate.auth, &session);
        }
        let payload = match TryData::<serde_json::Value>::from_message_parts(&s, &mut v, &ack_id) {
            Ok(TryData(payload)) => payload.ok(),
            Err(never) => match never {},
        };
        if !session.update(SessionState::try_begin_verification) {
            tracing::debug!(sid = %s.id, "authenticate ignored: a verification is running or the session is closed");
            return;
        }
        let verification = self.gate.clone().authenticate(s, session, payload, ack);
        if let Some(rest) = poll_once(Box::pin(verification)) {
            tokio::spawn(rest);
        }
    }
}

/// Where [`OnAuthenticated::go_live`] is called from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// socketioxide's connect step (handshake mode): no lock held.
    ConnectHandler,
    /// The `authenticate` event handler (message mode): the socket's handler map is locked.
    MessageHandler,
}

/// Polls `future` once, here, and returns it if it has to wait (the caller spawns the rest).
///
/// A verification with its key at hand finishes in that one poll, which saves a task and a
/// trip through the scheduler per socket. A pending future is polled again by its task with a
/// real waker, as the `Future` contract expects. Never for the application's handler from a
/// message handler: socketioxide holds the socket's handler map locked while it calls one,
/// and the application's handler registers handlers (see [`Caller`]).
fn poll_once(mut future: BoxFuture<'static, ()>) -> Option<BoxFuture<'static, ()>> {
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(()) => None,
        Poll::Pending => Some(future),
    }
}

/// Refuses the socket when its deadline passes: the authentication timeout while pending, the
/// token's expiry once authenticated. Ends when the session is dropped with its socket.
async fn run_deadline_timer<A: Adapter, C: Send + Sync + 'static>(
    socket: Weak<Socket<A>>,
    session: Weak<Session<C>>,
    mut deadline_rx: watch::Receiver<Option<Instant>>,
    auth: JwtAuth<C>,
) {
    loop {
        let deadline = *deadline_rx.borrow_and_update();
        let fired = match deadline {
            None => false,
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => true,
                changed = deadline_rx.changed() => {
                    if changed.is_err() { return; }
                    false
                }
            },
        };
        if !fired {
            if deadline.is_none() && deadline_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let (Some(s), Some(session)) = (socket.upgrade(), session.upgrade()) else {
            return;
        };
        match session.update(|st| st.on_deadline(Instant::now())) {
            Some(err) => {
                refuse(s, &err, None, &auth, &session);
                return;
            }
            // The deadline moved (refresh) or the session closed; the loop reads the new one.
            None if session.read(|st| st.deadline().is_none()) => return,
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wall_clock_is_recent() {
        assert!(super::wall_clock().as_secs() > 1_700_000_000);
    }
}
