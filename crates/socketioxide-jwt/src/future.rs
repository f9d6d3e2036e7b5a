//! [`BoxFuture`], the crate's one future type for object-safe traits.

/// A boxed, sendable future: what the crate's object-safe traits return (for applications,
/// [`KeyResolver::resolve`](crate::keys::KeyResolver::resolve)).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
