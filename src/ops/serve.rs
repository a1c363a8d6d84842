//! `breakglass serve`: run the service in the foreground until SIGINT or SIGTERM, then let
//! in-flight requests finish.

use std::path::Path;

use super::Failure;
use crate::app::App;
use crate::config::Config;

/// Load and check the config, start the [`App`] and wait for it to stop. The log lines are
/// flushed before this returns, so a failure's line comes after them.
pub fn serve(path: &Path) -> Result<(), Failure> {
    let logs = crate::telemetry::init();
    let result = crate::startup::load(path)
        .map_err(|e| format!("invalid config {}: {e}", path.display()))
        .and_then(|config| {
            let runtime = tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            runtime.block_on(run(config)).map_err(|e| format!("{e:#}"))
        });
    drop(logs);
    result.map_err(Failure::new)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    tracing::info!(addr = %app.addr(), "breakglass listening");
    let stop = app.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        stop.shutdown();
    });
    app.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
