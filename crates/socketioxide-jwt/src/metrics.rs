//! Metrics for operators, on the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`):
//! the application installs the recorder (Prometheus, StatsD, ...). Without the feature every
//! item here is a zero-sized no-op, so call sites need no `cfg`.
//!
//! Labels are bounded: outcome codes, the mode, the socket state, the namespace. Never a token,
//! a `sub` or an IP.

#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

#[cfg(feature = "metrics")]
use std::sync::Arc;

/// `counter`: every authentication decision, labels `outcome` (`authenticated`, `refreshed`,
/// or the error code, `server_busy` included), `mode` and `namespace`.
pub(crate) const AUTHENTICATIONS: &str = "socketioxide_jwt_authentications_total";
/// `gauge`: sockets now, labels `state` (`pending`, `authenticated`) and `namespace`.
pub(crate) const SOCKETS: &str = "socketioxide_jwt_sockets";
/// `histogram`: seconds to verify a token (signature, claims, revocation, application check).
pub(crate) const VERIFY_SECONDS: &str = "socketioxide_jwt_verify_seconds";
/// `counter`: revocations, labels `kind` (`token`, `user`) and `origin` (`local`: made in this
/// process; `remote`: received from another one).
pub(crate) const REVOCATIONS: &str = "socketioxide_jwt_revocations_total";
/// `counter`: security events received (feature `ssf`), labels `event` (`session-revoked`,
/// ..., `other`; `unknown` for a refused SET) and `outcome` (`applied`, `not_acted_on`,
/// `no_subject_matched`, `replayed`, `unavailable`, or the RFC 8935 error code).
#[cfg_attr(not(feature = "ssf"), allow(dead_code))]
pub(crate) const SSF_EVENTS: &str = "socketioxide_jwt_ssf_events_total";
/// `counter`: JWKS fetches, label `result` (`ok`, `error`).
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
pub(crate) const JWKS_FETCHES: &str = "socketioxide_jwt_jwks_fetches_total";

/// A namespace, as a label value (nothing without the feature).
#[derive(Debug, Clone)]
pub(crate) struct Namespace(#[cfg(feature = "metrics")] Arc<str>);

impl Namespace {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(ns: &str) -> Self {
        Self(
            #[cfg(feature = "metrics")]
            Arc::from(ns),
        )
    }
}

/// Counts one authentication decision.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[inline]
pub(crate) fn authentication(outcome: &'static str, via: Via, ns: &Namespace) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(AUTHENTICATIONS, "outcome" => outcome, "mode" => via.label(), "namespace" => ns.0.clone())
        .increment(1);
}

/// How a socket's token arrives: the `mode` label of metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The `authenticate` event.
    Message,
    /// The connection's handshake.
    Handshake,
}

impl Via {
    /// The label's value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Via::Message => "message",
            Via::Handshake => "handshake",
        }
    }
}

/// A socket counted in [`SOCKETS`] under one state for as long as this lives.
#[derive(Debug)]
pub(crate) struct SocketState {
    #[cfg(feature = "metrics")]
    gauge: ::metrics::Gauge,
}

impl SocketState {
    /// Counts a socket as `state` until dropped.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    #[inline]
    pub(crate) fn enter(state: &'static str, ns: &Namespace) -> Self {
        #[cfg(feature = "metrics")]
        {
            let gauge = ::metrics::gauge!(SOCKETS, "state" => state, "namespace" => ns.0.clone());
            gauge.increment(1.0);
            Self { gauge }
        }
        #[cfg(not(feature = "metrics"))]
        Self {}
    }
}

#[cfg(feature = "metrics")]
impl Drop for SocketState {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

/// Times one verification into [`VERIFY_SECONDS`].
#[derive(Debug)]
pub(crate) struct VerifyTimer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl VerifyTimer {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    #[inline]
    pub(crate) fn stop(self) {
        #[cfg(feature = "metrics")]
        ::metrics::histogram!(VERIFY_SECONDS).record(self.started.elapsed().as_secs_f64());
    }
}

/// Counts a revocation applied in this process.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[inline]
pub(crate) fn revocation(kind: &'static str, origin: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REVOCATIONS, "kind" => kind, "origin" => origin).increment(1);
}

/// Counts a security event (or a refused SET) and what became of it.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[cfg_attr(not(feature = "ssf"), allow(dead_code))]
#[inline]
pub(crate) fn ssf_event(event: &'static str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(SSF_EVENTS, "event" => event, "outcome" => outcome).increment(1);
}

/// Counts a JWKS fetch.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
#[inline]
pub(crate) fn jwks_fetch(ok: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(JWKS_FETCHES, "result" => if ok { "ok" } else { "error" }).increment(1);
}
