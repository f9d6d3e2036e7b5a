//! The [`Claims`] extractor (socket handlers, and axum handlers with the feature `axum`), and
//! claim access on a socket.

use std::convert::Infallible;
use std::ops::Deref;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::handler::disconnect::FromDisconnectParts;
use socketioxide::handler::{FromConnectParts, FromMessageParts};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide_core::Value;

use crate::session::session_of;

/// The verified claims of the socket, for any connect, message or disconnect handler.
///
/// Extraction fails (and socketioxide does not call the handler) when the socket is not
/// authenticated or was authenticated with another claims type. In a disconnect handler it also
/// gives the claims of a socket that was refused (revoked, expired) and is leaving for it, so
/// that the application can say who left. Cheap: an `Arc` clone.
///
/// # Example
/// ```
/// use socketioxide::extract::{AckSender, SocketRef};
/// use socketioxide_jwt::{Claims, StandardClaims};
/// async fn whoami(Claims(claims): Claims<StandardClaims>, ack: AckSender<socketioxide_jwt::JwtLocalAdapter>) {
///     ack.send(&*claims).ok();
/// }
/// ```
#[derive(Debug)]
pub struct Claims<C>(pub Arc<C>);

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

/// Why [`Claims`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[error("the socket is not authenticated with these claims")]
pub struct ClaimsRejection;

fn claims_from<C: Send + Sync + 'static, A: Adapter>(
    s: &Socket<A>,
) -> Result<Claims<C>, ClaimsRejection> {
    s.jwt_claims::<C>().map(Claims).ok_or(ClaimsRejection)
}

impl<A: Adapter, C: Send + Sync + 'static> FromConnectParts<A> for Claims<C> {
    type Error = ClaimsRejection;
    fn from_connect_parts(s: &Arc<Socket<A>>, _: &Option<Value>) -> Result<Self, Self::Error> {
        claims_from(s)
    }
}

impl<A: Adapter, C: Send + Sync + 'static> FromMessageParts<A> for Claims<C> {
    type Error = ClaimsRejection;
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        claims_from(s)
    }
}

impl<A: Adapter, C: Send + Sync + 'static> FromDisconnectParts<A> for Claims<C> {
    type Error = ClaimsRejection;
    /// The claims the socket was authenticated with, also when it was refused (revoked,
    /// expired) and is being disconnected for it: who left.
    fn from_disconnect_parts(s: &Arc<Socket<A>>, _: DisconnectReason) -> Result<Self, Self::Error> {
        session_of::<C, A>(s)
            .and_then(|session| session.read(|st| st.claims_at_disconnect()))
            .map(Claims)
            .ok_or(ClaimsRejection)
    }
}

/// Like [`Claims`], but never fails: `None` for a socket that is not authenticated.
#[derive(Debug, Clone)]
pub struct MaybeClaims<C>(pub Option<Arc<C>>);

impl<A: Adapter, C: Send + Sync + 'static> FromMessageParts<A> for MaybeClaims<C> {
    type Error = Infallible;
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(MaybeClaims(s.jwt_claims()))
    }
}

/// Claim access on a socket (`SocketRef` derefs to [`Socket`]).
///
/// # Example
/// ```
/// use socketioxide::extract::SocketRef;
/// use socketioxide_jwt::{extract::SocketClaimsExt, JwtLocalAdapter, StandardClaims};
/// async fn handler(socket: SocketRef<JwtLocalAdapter>) {
///     if let Some(claims) = socket.jwt_claims::<StandardClaims>() {
///         println!("{:?}", claims.sub);
///     }
/// }
/// ```
pub trait SocketClaimsExt {
    /// The verified claims, if the socket is authenticated with claims type `C`.
    fn jwt_claims<C: Send + Sync + 'static>(&self) -> Option<Arc<C>>;
    /// Who the socket is authenticated as (or was, in a disconnect handler after a refusal),
    /// if with claims type `C`: the user the library keys by (`sub`, or the
    /// [`identity_claim`](crate::JwtAuthBuilder::identity_claim), with `iss`).
    ///
    /// # Example
    /// ```
    /// use socketioxide::extract::SocketRef;
    /// use socketioxide_jwt::{extract::SocketClaimsExt, JwtLocalAdapter, StandardClaims};
    /// async fn handler(socket: SocketRef<JwtLocalAdapter>) {
    ///     if let Some(user) = socket.jwt_user::<StandardClaims>() {
    ///         println!("{} (key {})", user.sub(), user.key());
    ///     }
    /// }
    /// ```
    fn jwt_user<C: Send + Sync + 'static>(&self) -> Option<crate::identity::UserId>;
    /// Whether the socket is authenticated (with any claims type it was admitted with).
    fn is_authenticated<C: Send + Sync + 'static>(&self) -> bool {
        self.jwt_claims::<C>().is_some()
    }
}

impl<A: Adapter> SocketClaimsExt for Socket<A> {
    fn jwt_claims<C: Send + Sync + 'static>(&self) -> Option<Arc<C>> {
        session_of::<C, A>(self).and_then(|s| s.read(|st| st.claims()))
    }

    fn jwt_user<C: Send + Sync + 'static>(&self) -> Option<crate::identity::UserId> {
        session_of::<C, A>(self).and_then(|s| s.read(|st| st.user()))
    }
}
