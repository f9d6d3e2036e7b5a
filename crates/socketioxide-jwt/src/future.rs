//! [`BoxFuture`], the crate's one future type for object-safe traits.

/// A boxed, sendable future: what the crate's object-safe traits return (for applications,
/// [`KeyResolver::resolve`](crate::keys::KeyResolver::resolve)).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs `work` to its end even if the caller stops waiting (a client that hangs up drops the
/// request's future): in a task of its own on the current Tokio runtime, or here outside one.
/// `Err` when that task panicked or the runtime is shutting down: `work` may have stopped
/// anywhere.
pub(crate) async fn to_completion<F>(work: F) -> Result<F::Output, tokio::task::JoinError>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn(work).await,
        Err(_) => Ok(work.await),
    }
}
