//! One Redis (`redis://`, `rediss://` with TLS): a connection manager that connects lazily and
//! reconnects by itself, so the service starts while Redis is down and recovers when it is back.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::StoreError;

/// A lazy connection to the Redis at `url`. Connecting and each answer are bounded by
/// `timeout`, and a reconnect is retried once, at most 500 ms later: a request never waits long
/// for a Redis that is gone.
pub(super) fn connect(
    url: &str,
    certificates: Option<redis::TlsCertificates>,
    timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    let client = match certificates {
        Some(certs) => redis::Client::build_with_tls(url, certs)?,
        None => redis::Client::open(url)?,
    };
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    Ok(ConnectionManager::new_lazy_with_config(
        client,
        manager_config,
    )?)
}

/// Whether the Redis client takes `url` as the URL of one Redis; the Cluster and Sentinel URLs
/// are lists of these.
pub(super) fn is_url(url: &str) -> bool {
    redis::Client::open(url).is_ok()
}
