//! The application's handler for authenticated sockets ([`AuthenticatedHandler`]).
//!
//! socketioxide's own `ConnectHandler::call` spawns the handler, so nothing can tell when the
//! handler has registered its events. This trait hands the handler's future to the gate instead:
//! the gate polls it once (everything the handler does before its first pending `.await`,
//! registering `socket.on(..)` handlers above all) and only then emits `authenticated`. A client
//! that emits as soon as it sees `authenticated` therefore always finds the handlers in place.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::handler::FromConnectParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;

use crate::future::BoxFuture;

/// The marker of [`OnAuthenticated`](crate::handler::OnAuthenticated)'s `ConnectHandler` impl
/// (keeps it `Send + Sync` whatever the extractors are). Public because that impl is; never
/// named by applications (like socketioxide's own handler markers).
#[doc(hidden)]
#[derive(Debug)]
pub struct ViaAuthenticated<T>(PhantomData<fn() -> T>);

/// Why the handler's arguments could not be extracted (the handler is then not called).
pub type ExtractError = Box<dyn std::error::Error + Send>;

/// An async function run once a socket is authenticated, taking up to 8 socketioxide connect
/// extractors (`SocketRef`, `SocketIo`, `Claims<C>`, `State<T>`, `HttpExtension<T>`, ...).
///
/// Implemented for async closures and `async fn`s; you do not implement it yourself.
///
/// # Example
/// ```
/// # use socketioxide_jwt::keys::Keys;
/// use socketioxide::{extract::SocketRef, SocketIo};
/// use socketioxide_jwt::{Claims, JwtLocalAdapter as A, StandardClaims};
/// async fn on_authenticated(socket: SocketRef<A>, io: SocketIo<A>, Claims(me): Claims<StandardClaims>) {
///     // Registered before `authenticated` reaches the client.
///     socket.on("ping", async |s: SocketRef<A>| { s.emit("pong", &()).ok(); });
///     // Anything after the first await may run later.
///     io.emit("joined", &me.sub).await.ok();
/// }
/// # let auth = socketioxide_jwt::JwtAuth::builder(Keys::hmac(b"a-32-byte-long-secret-for-hs256!")).build().unwrap();
/// # let _ = auth.on_authenticated(on_authenticated);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler for authenticated sockets",
    label = "not an `on_authenticated` handler",
    note = "a handler is an async closure or `async fn` taking up to 8 connect extractors (`SocketRef<A>`, `SocketIo<A>`, `Claims<C>`, `State<T>`, `HttpExtension<T>`, ...), each `FromConnectParts<A>` for the namespace's adapter `A` (a `JwtAdapter`), and returning `()`",
    note = "event extractors such as `Data<T>` or `AckSender<A>` belong to the handlers registered inside it with `socket.on(..)`"
)]
pub trait AuthenticatedHandler<A: Adapter, T>: Clone + Send + Sync + 'static {
    /// Extracts the arguments and returns the handler's future.
    ///
    /// # Errors
    /// The first extractor that failed.
    fn call(
        &self,
        s: Arc<Socket<A>>,
        auth: Option<Value>,
    ) -> Result<BoxFuture<'static, ()>, ExtractError>;
}

macro_rules! impl_authenticated_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<A, F, Fut, $($ty,)*> AuthenticatedHandler<A, ($($ty,)*)> for F
        where
            A: Adapter,
            F: FnOnce($($ty,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
            $( $ty: FromConnectParts<A> + Send, )*
        {
            fn call(&self, s: Arc<Socket<A>>, auth: Option<Value>) -> Result<BoxFuture<'static, ()>, ExtractError> {
                $(
                    let $ty = $ty::from_connect_parts(&s, &auth).map_err(|e| Box::new(e) as ExtractError)?;
                )*
                Ok(Box::pin((self.clone())($($ty,)*)))
            }
        }
    };
}

impl_authenticated_handler!();
impl_authenticated_handler!(T1);
impl_authenticated_handler!(T1, T2);
impl_authenticated_handler!(T1, T2, T3);
impl_authenticated_handler!(T1, T2, T3, T4);
impl_authenticated_handler!(T1, T2, T3, T4, T5);
impl_authenticated_handler!(T1, T2, T3, T4, T5, T6);
impl_authenticated_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_authenticated_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
