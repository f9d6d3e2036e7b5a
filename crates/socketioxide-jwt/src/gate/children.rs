//! Child namespaces of a gated dynamic namespace: counted, and removed once empty.
//!
//! socketioxide 0.18 creates a child namespace (with its own adapter, and so its own Redis
//! subscriptions) for every concrete path a client CONNECTs to under `io.dyn_ns`, and never
//! removes it. Without a bound, one client CONNECTing to `/tenant/1`, `/tenant/2`, ... grows the
//! server's namespace table without limit, even when every one of those sockets is refused.
//!
//! [`Children`] counts the sockets of each child (every socket of a gated namespace passes the
//! gate's middleware, which takes a [`ChildLease`]); when a child's last lease goes, a task
//! removes the child with `io.delete_ns`, unless a socket arrived in the meantime. The count and
//! the removal are decided under one lock, so a child with a socket is never removed.
//!
//! One race is left, and it fails closed: socketioxide looks the child up before it runs the
//! middleware, so a socket that found the child just before its removal is refused with
//! `server_busy` (the client retries) when the middleware sees the child gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use socketioxide::adapter::Adapter;
use socketioxide::SocketIo;

use crate::metrics;

/// The children of one dynamic namespace pattern, with their socket counts.
#[derive(Debug)]
pub(crate) struct Children {
    /// The pattern (`/tenant/{id}`): the metrics label of every child.
    label: metrics::Namespace,
    sockets: Mutex<HashMap<Box<str>, usize>>,
}

impl Children {
    pub(crate) fn new(pattern: &str) -> Self {
        Self {
            label: metrics::Namespace::new(pattern),
            sockets: Mutex::new(HashMap::new()),
        }
    }

    /// The label for the metrics of every child of this pattern.
    pub(crate) fn label(&self) -> &metrics::Namespace {
        &self.label
    }

    /// Counts one more socket in the child at `path`, or `None` when the child is no longer
    /// registered (removed after socketioxide handed this socket to it).
    pub(crate) fn lease<A: Adapter>(
        self: &Arc<Self>,
        io: &SocketIo<A>,
        path: &str,
    ) -> Option<ChildLease<A>> {
        let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        // Under the lock, so that no removal runs between this check and the count.
        io.of(path)?;
        *sockets.entry(Box::from(path)).or_insert(0) += 1;
        Some(ChildLease {
            children: self.clone(),
            io: io.clone(),
            path: Box::from(path),
        })
    }

    /// The number of children with at least one socket.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn release<A: Adapter>(self: Arc<Self>, io: SocketIo<A>, path: Box<str>) {
        {
            let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(count) = sockets.get_mut(&path) else {
                return;
            };
            *count -= 1;
            if *count > 0 {
                return;
            }
            sockets.remove(&path);
        }
        // Not here: a lease is dropped with its socket, possibly while socketioxide holds the
        // namespace's socket table, which `delete_ns` reads.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
            if !sockets.contains_key(&path) {
                // No lease, so no socket of ours in it: closing it disconnects nobody, and no
                // lease can drop (and take this lock) inside it.
                io.delete_ns(&*path);
                tracing::debug!(ns = %path, "removed an empty child namespace");
            }
        });
    }
}

/// One socket's place in a child namespace; dropping it (with the socket) may remove the child.
pub(crate) struct ChildLease<A: Adapter> {
    children: Arc<Children>,
    io: SocketIo<A>,
    path: Box<str>,
}

impl<A: Adapter> Drop for ChildLease<A> {
    fn drop(&mut self) {
        let path = std::mem::take(&mut self.path);
        self.children.clone().release(self.io.clone(), path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socketioxide::adapter::LocalAdapter;

    #[tokio::test]
    async fn a_child_is_removed_when_its_last_lease_goes() {
        let (_svc, io) = SocketIo::new_svc();
        io.ns("/tenant/1", async || {});
        let children = Arc::new(Children::new("/tenant/{id}"));
        let a = children.lease::<LocalAdapter>(&io, "/tenant/1").unwrap();
        let b = children.lease::<LocalAdapter>(&io, "/tenant/1").unwrap();
        assert!(children.lease::<LocalAdapter>(&io, "/tenant/2").is_none());
        drop(a);
        tokio::task::yield_now().await;
        assert!(io.of("/tenant/1").is_some(), "one socket is left");
        drop(b);
        for _ in 0..100 {
            if io.of("/tenant/1").is_none() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(io.of("/tenant/1").is_none());
        assert_eq!(children.len(), 0);
    }

    #[tokio::test]
    async fn a_socket_arriving_before_the_removal_keeps_the_child() {
        let (_svc, io) = SocketIo::new_svc();
        io.ns("/tenant/1", async || {});
        let children = Arc::new(Children::new("/tenant/{id}"));
        let a = children.lease::<LocalAdapter>(&io, "/tenant/1").unwrap();
        drop(a);
        // The removal task has not run yet: a new socket counts first.
        let b = children.lease::<LocalAdapter>(&io, "/tenant/1").unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(io.of("/tenant/1").is_some());
        drop(b);
    }
}
