//! Tower layers for the HTTP side of a Socket.IO server, each in the tower-http shape
//! (`XLayer`, the service `X<S>`, its future): [`OriginLayer`] refuses Socket.IO requests from
//! foreign browser origins; [`CompactHeadLayer`] stops held sockets from pinning hyper's read
//! buffer.

mod compact;
mod origin;

pub use compact::{compact_head, CompactHead, CompactHeadLayer};
pub(crate) use origin::normalize as normalize_origin;
pub use origin::{OriginCheck, OriginFuture, OriginLayer};
