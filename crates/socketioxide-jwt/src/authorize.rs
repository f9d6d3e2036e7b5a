//! Per-event authorization: a handler that needs a claim.

use std::marker::PhantomData;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;
use socketioxide::handler::{FromMessageParts, MessageHandler};
use socketioxide::socket::Socket;
use socketioxide_core::Value;

use crate::auth::JwtAuth;
use crate::error::AuthError;
use crate::extract::SocketClaimsExt;

/// A message handler that runs only when the socket's claims satisfy a predicate.
///
/// Made by [`JwtAuth::require`]. A socket without the claim gets the error object with code
/// `forbidden` through its ack, or as the `unauthorized` event when it asked for no ack; the
/// handler does not run and the socket stays connected.
pub struct Require<C, P, H> {
    predicate: Arc<P>,
    handler: H,
    unauthorized_event: Arc<str>,
    _claims: PhantomData<fn() -> C>,
}

impl<C, P, H> std::fmt::Debug for Require<C, P, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Require").finish_non_exhaustive()
    }
}

impl<C> JwtAuth<C> {
    /// Wraps an event handler so that it runs only if `predicate(claims)` holds.
    ///
    /// # Example
    /// ```
    /// # use socketioxide_jwt::keys::Keys;
    /// use socketioxide::extract::{AckSender, Data, SocketRef};
    /// use socketioxide_jwt::{JwtAuth, JwtLocalAdapter, StandardClaims};
    ///
    /// let auth = JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build()?;
    /// let gate = auth.clone();
    /// let on_connect = async move |socket: SocketRef<JwtLocalAdapter>| {
    ///     socket.on("room:delete", gate.require(
    ///         |c: &StandardClaims| c.has_role("admin"),
    ///         async |Data(room): Data<String>, ack: AckSender<JwtLocalAdapter>| {
    ///             ack.send(&format!("deleted {room}")).ok();
    ///         },
    ///     ));
    /// };
    /// # let _ = auth.on_authenticated(on_connect);
    /// # Ok::<(), socketioxide_jwt::ConfigError>(())
    /// ```
    pub fn require<P, H>(&self, predicate: P, handler: H) -> Require<C, P, H>
    where
        P: Fn(&C) -> bool + Send + Sync + 'static,
    {
        Require {
            predicate: Arc::new(predicate),
            handler,
            unauthorized_event: self.inner.gate.events.unauthorized.as_str().into(),
            _claims: PhantomData,
        }
    }
}

impl<A, T, C, P, H> MessageHandler<A, T> for Require<C, P, H>
where
    A: Adapter,
    H: MessageHandler<A, T>,
    C: Send + Sync + 'static,
    P: Fn(&C) -> bool + Send + Sync + 'static,
{
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
        let allowed = s.jwt_claims::<C>().is_some_and(|c| (self.predicate)(&c));
        if allowed {
            return self.handler.call(s, v, ack_id);
        }
        tracing::info!(sid = %s.id, ns = s.ns(), code = "forbidden", "event refused: missing claim");
        let object =
            AuthError::forbidden("this action needs a permission the token does not grant")
                .to_object();
        if ack_id.is_some() {
            let ack = match AckSender::from_message_parts(&s, &mut v, &ack_id) {
                Ok(ack) => ack,
                Err(never) => match never {},
            };
            let _ = ack.send(&object);
        } else {
            let _ = s.emit(&*self.unauthorized_event, &object);
        }
    }
}
