//! `GET /metrics` (`--metrics`): the library's metrics in the Prometheus text format.

use metrics_exporter_prometheus::PrometheusHandle;

use crate::BoxError;

/// Installs a Prometheus recorder: before anything the library counts (the key fetches of
/// OIDC discovery at start-up included).
pub fn install_recorder() -> Result<PrometheusHandle, BoxError> {
    // Buckets, so that the verify time aggregates across instances (a summary would not).
    let verify_buckets = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25, 1.0,
    ];
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("socketioxide_jwt_verify_seconds".into()),
            &verify_buckets,
        )
        .map_err(|e| format!("bad metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    Ok(prometheus)
}

/// Adds `GET /metrics` to `router`, rendering what `prometheus` recorded.
pub fn with_metrics_route(router: axum::Router, prometheus: PrometheusHandle) -> axum::Router {
    router.route(
        "/metrics",
        axum::routing::get(move || {
            let prometheus = prometheus.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    prometheus.render(),
                )
            }
        }),
    )
}
