//! Structured logs: JSON lines on stderr, filtered by `BREAKGLASS_LOG` (or `RUST_LOG`), default
//! `info`. Request spans carry the request id, method and path; never headers, bodies, tokens or
//! signatures.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. Call once, from `main`.
pub fn init() {
    let filter = std::env::var("BREAKGLASS_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json = std::env::var("BREAKGLASS_LOG_FORMAT").map_or(true, |f| f != "text");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}
