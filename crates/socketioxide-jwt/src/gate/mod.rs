//! The socketioxide integration: [`OnAuthenticated`], the connect handler that gates a namespace.
//!
//! One file per step of a socket's life: [`admit`] (the connect middleware), [`authenticate`]
//! (the `authenticate` event), [`live`] (going live), [`refuse`] (refusals) and [`timer`] (the
//! deadline).
//!
//! Soundness rests on three facts of socketioxide 0.18:
//! 1. A connect middleware runs before the socket is added to its namespace, so joining
//!    [`PENDING_ROOM`](crate::protocol::PENDING_ROOM) there leaves no window in which a
//!    broadcast could reach it (and [`JwtAdapter`](crate::JwtAdapter) excludes that room from
//!    every broadcast).
//! 2. Events without a handler are dropped. The application's handlers are registered by its
//!    connect handler, which this gate calls only once the socket is authenticated; until then
//!    the only handler is `authenticate`, registered in the middleware before the client can speak.
//! 3. The session lives as long as the socket's `authenticate` handler, which socketioxide
//!    keeps as long as the socket; the session (and so its timer) goes with it.

mod admit;
mod authenticate;
mod children;
mod guest;
mod holdings;
mod live;
mod refuse;
mod rooms;
mod timer;

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Socket;
use socketioxide::SocketIo;
use socketioxide_core::Value;

use self::children::Children;
pub use self::guest::{GuestHandler, Guests, NoGuests};
use self::live::{go_live, Caller};
use crate::adapter::GatedAdapter;
use crate::app_handler::{AuthenticatedHandler, ViaAuthenticated};
use crate::auth::JwtAuth;
use crate::session::{session_of, SessionState};

type MiddlewareFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn Display + Send>>> + Send + 'a>>;

/// A connect handler that runs the application's handler only for authenticated sockets.
///
/// Made by [`JwtAuth::on_authenticated`] for `io.ns` (and by [`JwtAuth::dyn_ns`]). For checks that
/// may refuse a socket, use `JwtAuthBuilder::check`.
///
/// <div class="warning">Do not wrap it with socketioxide's <code>ConnectHandler::with(middleware)</code>:
/// socketioxide's layering replaces the handler's own middleware, which is where the gate admits
/// the socket, so every socket of such a namespace is disconnected at once (it fails closed).
/// Put what the middleware would do in <code>JwtAuthBuilder::check</code> (claims),
/// <code>client_ip</code> and <code>failed_auth_limit</code> (addresses), or a tower layer in front of
/// the Socket.IO layer (requests).</div>
pub struct OnAuthenticated<C, H, G = NoGuests> {
    auth: JwtAuth<C>,
    handler: H,
    /// What a socket without a token becomes: refused ([`NoGuests`]), or a guest.
    guests: G,
    /// Set by [`JwtAuth::dyn_ns`]: the children of a dynamic namespace.
    children: Option<Arc<Children>>,
}

impl<C, H: Clone, G: Clone> Clone for OnAuthenticated<C, H, G> {
    fn clone(&self) -> Self {
        Self {
            auth: self.auth.clone(),
            handler: self.handler.clone(),
            guests: self.guests.clone(),
            children: self.children.clone(),
        }
    }
}

impl<C, H, G> std::fmt::Debug for OnAuthenticated<C, H, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnAuthenticated")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<C, H> OnAuthenticated<C, H, NoGuests> {
    /// Admits guests on this namespace (socketio-jwt's `required: false`, socketio-auth's
    /// `timeout: 'none'`): a socket without a token stays, as a guest, instead of being timed
    /// out, and `guest` (an async function of connect extractors, as the authenticated
    /// handler) runs for it. A later `authenticate` on the same socket makes it an
    /// authenticated socket (same id; `authenticated` sent, the authenticated handler run,
    /// the rooms of its claims joined); a refused one disconnects it, as every refusal does.
    ///
    /// A guest:
    /// - runs only the event handlers `guest` registers (the authenticated handler's are
    ///   registered when it authenticates; handlers `guest` registered stay unless replaced, so
    ///   register nothing there a guest may not do);
    /// - hears no broadcast to everyone (`io.emit`, `socket.broadcast()`), on this server or
    ///   another behind the same adapter, only what is sent to rooms `guest` put it in
    ///   (`io.to("lobby")`) or to [`GUEST_ROOM`](crate::protocol::GUEST_ROOM);
    /// - holds a place of its own ([`max_guests`](crate::JwtAuthBuilder::max_guests),
    ///   [`max_guests_per_address`](crate::JwtAuthBuilder::max_guests_per_address)), never a
    ///   pending one: a guest flood leaves the pending places to sockets that authenticate.
    ///   When no guest place is left, a socket waits for `authenticate` as on any namespace
    ///   (a handshake-mode handshake without a token gets `server_busy`);
    /// - is limited as any socket: `authenticate` attempts per minute, and the transport's
    ///   bounds. Bound what its handlers do per event yourself.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide::{extract::{AckSender, SocketRef}, SocketIo};
    /// use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};
    ///
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
    /// let (_layer, io) = SocketIo::builder().with_adapter::<A>(()).build_layer();
    /// io.ns("/", auth
    ///     .on_authenticated(async |socket: SocketRef<A>| {
    ///         socket.join("lobby");
    ///         socket.on("whoami", async |Claims(c): Claims<StandardClaims>, ack: AckSender<A>| {
    ///             ack.send(&*c).ok();
    ///         });
    ///     })
    ///     .or_guest(async |socket: SocketRef<A>| {
    ///         socket.join("lobby");
    ///         socket.on("whoami", async |ack: AckSender<A>| {
    ///             ack.send(&serde_json::json!({ "guest": true })).ok();
    ///         });
    ///     }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn or_guest<G>(self, guest: G) -> OnAuthenticated<C, H, Guests<G>> {
        OnAuthenticated {
            auth: self.auth,
            handler: self.handler,
            guests: Guests(guest),
            children: self.children,
        }
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
    /// <div class="warning">The `authenticate` event (or the name given to
    /// <code>JwtAuthBuilder::event_names</code>) is the library's: the socket's session (its
    /// expiry, its refresh) lives with the library's handler for it. A socket on which the
    /// application registers its own handler for that event is disconnected.</div>
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide::{extract::{AckSender, SocketRef}, SocketIo};
    /// use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter as A, StandardClaims};
    ///
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
    /// let (_layer, io) = SocketIo::builder().with_adapter::<A>(()).build_layer();
    /// io.ns("/", auth.on_authenticated(
    ///     async |socket: SocketRef<A>, Claims(claims): Claims<StandardClaims>| {
    ///         socket.on("whoami", async |Claims(c): Claims<StandardClaims>, ack: AckSender<A>| {
    ///             ack.send(&*c).ok();
    ///         });
    ///         println!("{:?} is here", claims.sub);
    ///     },
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// For a dynamic namespace (`io.dyn_ns`), use [`JwtAuth::dyn_ns`].
    pub fn on_authenticated<H>(&self, handler: H) -> OnAuthenticated<C, H> {
        OnAuthenticated {
            auth: self.clone(),
            handler,
            guests: NoGuests,
            children: None,
        }
    }

    /// Gates a dynamic namespace: `io.dyn_ns(pattern, ..)` with [`on_authenticated`]'s handler,
    /// plus what a dynamic namespace needs under a flood:
    ///
    /// - a child namespace (`/tenant/42` under `/tenant/{id}`) is removed once its last socket
    ///   is gone, refused sockets included (socketioxide keeps every child it creates, with its
    ///   adapter and, on Redis, its subscriptions);
    /// - metrics are labelled with the pattern, not the concrete path, so a client cannot make
    ///   one series per path it invents.
    ///
    /// `io.dyn_ns(pattern, auth.on_authenticated(handler))` gates the same way without either.
    ///
    /// # Errors
    /// socketioxide's, when the pattern is invalid or overlaps one already registered.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide::{extract::SocketRef, SocketIo};
    /// use socketioxide_jwt::{JwtAuth, JwtLocalAdapter as A};
    ///
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
    /// let (_layer, io) = SocketIo::builder().with_adapter::<A>(()).build_layer();
    /// auth.dyn_ns(&io, "/tenant/{id}", async |socket: SocketRef<A>| {
    ///     println!("authenticated on {}", socket.ns());
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`on_authenticated`]: JwtAuth::on_authenticated
    pub fn dyn_ns<A, H, T>(
        &self,
        io: &SocketIo<A>,
        pattern: impl Into<String>,
        handler: H,
    ) -> Result<(), socketioxide::NsInsertError>
    where
        A: GatedAdapter,
        H: AuthenticatedHandler<A, T>,
        T: Send + Sync + 'static,
    {
        let pattern = pattern.into();
        let gated = OnAuthenticated {
            auth: self.clone(),
            handler,
            guests: NoGuests,
            children: Some(Arc::new(Children::new(&pattern))),
        };
        io.dyn_ns(pattern, gated)
    }
}

impl<A, T, TG, C, H, G> ConnectHandler<A, ViaAuthenticated<(T, TG)>> for OnAuthenticated<C, H, G>
where
    A: GatedAdapter,
    H: AuthenticatedHandler<A, T>,
    G: GuestHandler<A, TG>,
    T: 'static,
    TG: 'static,
    C: DeserializeOwned + Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, auth: Option<Value>) {
        let Some(session) = session_of::<C, A>(&s) else {
            tracing::error!(sid = %s.id, "socket connected without a session; disconnecting");
            let _ = s.disconnect();
            return;
        };
        // Handshake mode verified the token in the middleware; message mode goes live later.
        if let Some(live) = session.update(|st| st.take_live(crate::time::wall_clock)) {
            let from = Caller::ConnectHandler;
            go_live(&self.auth, &self.handler, s, &session, live, auth, from);
        } else if session.read(SessionState::is_closed) {
            // Refused between the middleware and now (a revocation, the timer): its refusal was
            // sent before socketioxide added the socket, so nothing else would close it.
            let _ = s.disconnect();
        } else if session.read(SessionState::is_guest) {
            // Nothing is locked here: the guest handler runs to its first pending `.await`
            // at once (its event handlers are in place before the client can speak).
            match self.guests.call(s.clone(), auth) {
                Some(Ok(handler)) => {
                    if let Some(rest) = live::poll_once(handler) {
                        tokio::spawn(rest);
                    }
                }
                Some(Err(e)) => {
                    tracing::error!(sid = %s.id, error = %e, "the guest handler's arguments could not be extracted; it was not called");
                }
                None => {}
            }
        }
    }

    fn call_middleware<'a>(
        &'a self,
        s: Arc<Socket<A>>,
        auth: &'a Option<Value>,
    ) -> MiddlewareFuture<'a> {
        Box::pin(admit::admit(
            &self.auth,
            &self.handler,
            self.children.as_ref(),
            self.guests.admits_guests(),
            s,
            auth,
        ))
    }
}
