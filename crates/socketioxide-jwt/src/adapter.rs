//! The adapter wrapper that keeps pending sockets out of every broadcast, and guests out of
//! every broadcast to everyone.
//!
//! socketioxide has no way to hide a connected socket from its namespace: a plain `io.emit`
//! reaches every socket. [`JwtAdapter`] wraps any adapter (the local one, Redis, ...) and adds
//! [`PENDING_ROOM`] to the `except` set of every broadcast, broadcast with ack and socket fetch,
//! unless the caller targets that room on purpose; and [`GUEST_ROOM`] when it targets no room
//! (everyone): a guest hears only what is sent to a room it was put in. Every other operation is
//! forwarded unchanged to the inner adapter, so remote adapters keep working.
//!
//! Across processes the *sending* process applies the options, and they travel with the request,
//! so every process must run `JwtAdapter` (they all use the same room name).
//!
//! When the remote half of a broadcast fails (Redis down), the packet is still delivered to this
//! process's sockets, and the error returned: an outage never silences a server's own sockets.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::{Adapter, Emitter};
use socketioxide::operators::BroadcastOperators;
use socketioxide_core::adapter::errors::BroadcastError;
use socketioxide_core::adapter::{
    BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter, RemoteSocketData, Room,
    RoomParam,
};
use socketioxide_core::packet::Packet;

use crate::protocol::{GUEST_ROOM, PENDING_ROOM};

/// Wraps an adapter so that no broadcast reaches a socket that is not authenticated yet.
///
/// Namespaces registered with [`JwtAuth::on_authenticated`](crate::JwtAuth::on_authenticated)
/// require it (the compiler refuses a plain adapter), so a pending socket can never be reached
/// by `io.emit`, `to(room)`, `broadcast()`, `emit_with_ack` or `fetch_sockets`.
///
/// # Example
/// ```
/// use socketioxide::{adapter::LocalAdapter, SocketIo};
/// use socketioxide_jwt::JwtAdapter;
/// let (layer, io) = SocketIo::builder()
///     .with_adapter::<JwtAdapter<LocalAdapter>>(())
///     .build_layer();
/// # let _ = (layer, io);
/// ```
///
/// <div class="warning">
/// Direct paths bypass adapters: <code>io.get_socket(sid)</code> and
/// <code>io.sockets()</code> may return a pending socket. Use
/// <a href="trait.AuthenticatedOperators.html"><code>.authenticated()</code></a> to enumerate
/// authenticated sockets only.
/// </div>
#[derive(Debug)]
pub struct JwtAdapter<A> {
    inner: Arc<A>,
}

/// Marks the adapters that keep pending sockets out of broadcasts. Only [`JwtAdapter`] has it.
///
/// Write application code generic over `A: GatedAdapter` to run it on any of them (local in
/// development, Redis in production): it is all `io.ns` needs.
pub trait GatedAdapter: Adapter + DefinedAdapter + sealed::Sealed {}
impl<A: Adapter + DefinedAdapter> GatedAdapter for JwtAdapter<A> {}
impl<A: Adapter> sealed::Sealed for JwtAdapter<A> {}
mod sealed {
    pub trait Sealed {}
}

/// Adds the pending room to `except`, unless the caller targets that room itself; and the
/// guests' room when the caller targets no room at all (everyone).
fn exclude_pending(mut opts: BroadcastOptions) -> BroadcastOptions {
    let everyone = opts.rooms.is_empty();
    for (room, excluded) in [(PENDING_ROOM, true), (GUEST_ROOM, everyone)] {
        let targeted = opts.rooms.iter().any(|r| r == room);
        let already = opts.except.iter().any(|r| r == room);
        if excluded && !targeted && !already {
            opts.except.push(Room::Borrowed(room));
        }
    }
    opts
}

impl<A: Adapter> CoreAdapter<Emitter> for JwtAdapter<A> {
    type Error = A::Error;
    type State = A::State;
    type AckStream = A::AckStream;
    type InitRes = A::InitRes;

    fn new(state: &Self::State, local: CoreLocalAdapter<Emitter>) -> Self {
        Self {
            inner: Arc::new(A::new(state, local)),
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> Self::InitRes {
        self.inner.clone().init(on_success)
    }

    /// Runs the inner adapter's close as a task of its own: socketioxide's `delete_ns` polls the
    /// close once and drops it, which would leave a remote adapter's unsubscriptions undone.
    fn close(&self) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        let inner = self.inner.clone();
        async move {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime
                    .spawn(async move { inner.close().await })
                    .await
                    .unwrap_or(Ok(())),
                Err(_) => inner.close().await,
            }
        }
    }

    fn server_count(&self) -> impl std::future::Future<Output = Result<u16, Self::Error>> + Send {
        self.inner.server_count()
    }

    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> impl std::future::Future<Output = Result<(), BroadcastError>> + Send {
        let opts = exclude_pending(opts);
        let inner = self.inner.clone();
        async move {
            // socketioxide-redis sends the remote half first and returns before delivering
            // locally when that fails: deliver locally then, so local sockets never miss it.
            match inner.broadcast(packet.clone(), opts.clone()).await {
                Err(BroadcastError::Adapter(e)) => {
                    tracing::warn!(error = %e, "broadcast did not reach the other servers; delivered on this one");
                    inner
                        .get_local()
                        .broadcast(packet, opts)
                        .map_err(BroadcastError::Socket)?;
                    Err(BroadcastError::Adapter(e))
                }
                other => other,
            }
        }
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> impl std::future::Future<Output = Result<Self::AckStream, Self::Error>> + Send {
        self.inner
            .broadcast_with_ack(packet, exclude_pending(opts), timeout)
    }

    /// `io.join(room)` (and any selection) puts no pending socket in a room, nor a guest unless
    /// the selection names a room it is in.
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.inner.add_sockets(exclude_pending(opts), rooms)
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: impl RoomParam,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.inner.del_sockets(opts, rooms)
    }

    fn disconnect_socket(
        &self,
        opts: BroadcastOptions,
    ) -> impl std::future::Future<Output = Result<(), BroadcastError>> + Send {
        self.inner.disconnect_socket(opts)
    }

    fn rooms(
        &self,
        opts: BroadcastOptions,
    ) -> impl std::future::Future<Output = Result<Vec<Room>, Self::Error>> + Send {
        self.inner.rooms(opts)
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> impl std::future::Future<Output = Result<Vec<RemoteSocketData>, Self::Error>> + Send {
        self.inner.fetch_sockets(exclude_pending(opts))
    }

    fn get_local(&self) -> &CoreLocalAdapter<Emitter> {
        self.inner.get_local()
    }
}

impl<A: Adapter + DefinedAdapter> DefinedAdapter for JwtAdapter<A> {}

/// Narrows broadcast operators to authenticated sockets, for the local enumeration methods that
/// do not go through the adapter's broadcast (`sockets()`), and as an explicit statement of intent.
///
/// # Example
/// ```
/// use socketioxide::{adapter::LocalAdapter, SocketIo};
/// use socketioxide_jwt::{adapter::AuthenticatedOperators, JwtAdapter};
/// let (_layer, io) = SocketIo::builder().with_adapter::<JwtAdapter<LocalAdapter>>(()).build_layer();
/// io.ns("/", async |_: socketioxide::extract::SocketRef<JwtAdapter<LocalAdapter>>| {});
/// let authenticated = io.of("/").unwrap().authenticated().sockets();
/// assert!(authenticated.is_empty());
/// ```
pub trait AuthenticatedOperators {
    /// Excludes the pending room and the guests' room.
    fn authenticated(self) -> Self;
}

impl<A: Adapter> AuthenticatedOperators for BroadcastOperators<A> {
    fn authenticated(self) -> Self {
        self.except([PENDING_ROOM, GUEST_ROOM])
    }
}

/// [`JwtAdapter`] over socketioxide's in-memory adapter: the adapter of a single-process server.
pub type JwtLocalAdapter = JwtAdapter<socketioxide::adapter::LocalAdapter>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_room_is_excluded_unless_targeted_and_guests_from_broadcasts_to_everyone() {
        let everyone = [Room::Borrowed(PENDING_ROOM), Room::Borrowed(GUEST_ROOM)];
        let opts = exclude_pending(BroadcastOptions::default());
        assert_eq!(opts.except.as_slice(), &everyone);
        let mut targeted = BroadcastOptions::default();
        targeted.rooms.push(Room::Borrowed(PENDING_ROOM));
        assert!(exclude_pending(targeted).except.is_empty());
        let twice = exclude_pending(exclude_pending(BroadcastOptions::default()));
        assert_eq!(twice.except.as_slice(), &everyone);
        // A room: its guests hear it; pending sockets never.
        let mut lobby = BroadcastOptions::default();
        lobby.rooms.push(Room::Borrowed("lobby"));
        assert_eq!(
            exclude_pending(lobby).except.as_slice(),
            &[Room::Borrowed(PENDING_ROOM)]
        );
        let mut guests = BroadcastOptions::default();
        guests.rooms.push(Room::Borrowed(GUEST_ROOM));
        assert_eq!(
            exclude_pending(guests).except.as_slice(),
            &[Room::Borrowed(PENDING_ROOM)]
        );
    }
}
