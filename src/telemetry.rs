//! Structured logs: JSON lines on stderr, filtered by `BREAKGLASS_LOG` (or `RUST_LOG`), default
//! `info`. Request spans carry the request id, method and path; never headers, bodies, tokens or
//! signatures.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. Call once, from `main`, and keep the guard until the process
/// ends: lines are written to stderr by a thread of their own (a slow disk or pipe must not
/// stall the async runtime), and dropping the guard flushes what is still queued. When the
/// queue is full, logging waits rather than drops lines.
pub fn init() -> WorkerGuard {
    let filter = std::env::var("BREAKGLASS_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json = std::env::var("BREAKGLASS_LOG_FORMAT").map_or(true, |f| f != "text");
    // The queue's slots are allocated up front: 16,384 lines (about 0.5 MiB) absorb a stalled
    // disk for seconds at storm rates (two lines a webhook) without the default's 4 MiB.
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .lossy(false)
        .thread_name("breakglass-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
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
    guard
}
