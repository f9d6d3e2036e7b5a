//! The log filter: `RUST_LOG` (default `info`), with the targets that print message contents —
//! tokens included — held at `warn` unless `RUST_LOG` names them.

use tracing_subscriber::EnvFilter;

/// Targets whose debug/trace events print frames, packets, handshake `auth` payloads or request
/// URIs: a token in an `authenticate` event or a handshake would be printed with them.
pub const CONTENT_TARGETS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "engineioxide",
    "socketioxide",
    "socketioxide_redis",
];

/// The library's own target: decisions, never a token.
const LIBRARY_TARGET: &str = "socketioxide_jwt";

/// The filter for `RUST_LOG` (`None`: unset).
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    EnvFilter::builder().parse_lossy(directives(rust_log.unwrap_or("info")))
}

/// `rust_log` plus `target=warn` for every content target it does not name.
///
/// `EnvFilter` matches targets by prefix, so `socketioxide=warn` would also silence this
/// library's own `socketioxide_jwt` events: those get the user's default level back.
fn directives(rust_log: &str) -> String {
    let mut named = Vec::new();
    let mut default_level = None;
    for directive in rust_log.split(',').map(str::trim) {
        let target = directive
            .split(['=', '['])
            .next()
            .unwrap_or_default()
            .trim();
        if target.is_empty() {
            continue;
        }
        if target
            .parse::<tracing_subscriber::filter::LevelFilter>()
            .is_ok()
        {
            default_level = Some(target);
        } else {
            named.push(target);
        }
    }
    let is_named = |target: &str| {
        named
            .iter()
            .any(|n| *n == target || n.starts_with(&format!("{target}::")))
    };
    let mut out = rust_log.to_owned();
    for target in CONTENT_TARGETS {
        if !is_named(target) {
            out.push_str(&format!(",{target}=warn"));
        }
    }
    if let Some(level) = default_level.filter(|_| !is_named(LIBRARY_TARGET)) {
        out.push_str(&format!(",{LIBRARY_TARGET}={level}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn content_targets_are_capped_unless_named() {
        assert_eq!(
            directives("trace"),
            "trace,tungstenite=warn,tokio_tungstenite=warn,engineioxide=warn,socketioxide=warn,\
             socketioxide_redis=warn,socketioxide_jwt=trace"
        );
        let d = directives("debug,tungstenite=trace,socketioxide::client=debug");
        assert!(!d.contains(",tungstenite=warn"));
        assert!(d.contains(",tokio_tungstenite=warn"));
        assert!(!d.contains(",socketioxide=warn"));
        assert!(d.contains(",engineioxide=warn"));
        // socketioxide_jwt is not socketioxide: socketioxide stays capped, the library as asked.
        let d = directives("info,socketioxide_jwt=trace");
        assert!(d.contains(",socketioxide=warn"));
        assert!(!d.contains(",socketioxide_jwt=info"));
        // No default level: nothing to give back.
        assert!(!directives("chat_demo=debug").contains("socketioxide_jwt"));
    }
}
