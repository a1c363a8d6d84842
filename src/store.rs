//! Redis access shared by every part: the connection, the per-operation timeout, and the key
//! layout.
//!
//! Keys are planned for Redis Cluster from the start. Every incident lives in one of [`SHARDS`]
//! logical shards, and every key one atomic step touches carries that shard's hash tag, so the
//! step stays in one slot: `<prefix>:{<shard>}:<rest>`. The modules that own keys document them.

use std::future::Future;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config;

/// Number of logical shards. Fixed: changing it would move incidents between shards.
pub const SHARDS: u16 = 16;

/// Redis could not serve a request. Callers answer 503 (webhooks: the tool retries).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis is unavailable: {0}")]
    Unavailable(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("record `{key}` in redis is not readable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("too many concurrent writers on `{0}`; try again")]
    Contended(String),
}

/// A handle to Redis. Cheap to clone; reconnects by itself after Redis comes back.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// Counts operations that failed or timed out (`breakglass_redis_errors_total`).
    errors: Counter,
}

impl Store {
    /// Set up a lazy connection: the service starts even while Redis is down (readiness says
    /// so, webhooks answer 503) and connects when Redis appears.
    ///
    /// `rediss://` URLs use TLS (the system roots, or `tls_ca_file`, and a client certificate
    /// when `tls_cert_file`/`tls_key_file` are set); `redis://user:password@host` logs in as an
    /// ACL user.
    pub fn connect(cfg: &config::Redis, errors: Counter) -> Result<Self, StoreError> {
        install_crypto_provider();
        let client = if cfg.has_tls_files() {
            redis::Client::build_with_tls(cfg.url.expose(), tls_certificates(cfg)?)?
        } else {
            redis::Client::open(cfg.url.expose())?
        };
        let timeout: Duration = cfg.timeout.into();
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)?;
        Ok(Self {
            conn,
            prefix: cfg.prefix.clone(),
            timeout,
            errors,
        })
    }

    /// A connection to run commands on. Clones share one multiplexed connection.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Run one Redis operation under the configured timeout.
    pub async fn run<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let result = match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        };
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// Round-trip to Redis; the readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        self.run(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map(drop)
    }

    /// The shard an incident (or anything keyed by an incident) lives in.
    pub fn shard_of(id: &str) -> u16 {
        (fnv1a(id.as_bytes()) % u32::from(SHARDS)) as u16
    }

    /// `<prefix>:{<shard>}:<rest>`.
    pub fn key(&self, shard: u16, rest: &str) -> String {
        format!("{}:{{{shard}}}:{rest}", self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Make aws-lc-rs rustls' process-wide crypto provider unless one is set already. rustls is
/// built with both aws-lc-rs (the AWS SDK) and ring (reqwest), so it cannot pick one by itself
/// and a `rediss://` connection would fail without this.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The PEM files of the `tls_*` settings. Read again here (validation checked them at load) so
/// that a replaced certificate is picked up by the next start.
fn tls_certificates(cfg: &config::Redis) -> Result<redis::TlsCertificates, StoreError> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            StoreError::Unavailable(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "cannot read a TLS file",
                format!("redis.{key} `{}`: {e}", path.display()),
            )))
        })
    };
    let root_cert = match &cfg.tls_ca_file {
        Some(path) => Some(read("tls_ca_file", path)?),
        None => None,
    };
    let client_tls = match (&cfg.tls_cert_file, &cfg.tls_key_file) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read("tls_cert_file", cert)?,
            client_key: read("tls_key_file", key)?,
        }),
        _ => None,
    };
    Ok(redis::TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// FNV-1a: a hash that is stable across versions and platforms, unlike std's hasher, so that
/// shard assignment never changes.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(
            Store::shard_of("pagerduty:PFQZPSY"),
            Store::shard_of("pagerduty:PFQZPSY")
        );
        let spread: std::collections::HashSet<u16> = (0..200)
            .map(|i| Store::shard_of(&format!("opsgenie:{i}")))
            .collect();
        assert!(spread.iter().all(|s| *s < SHARDS));
        assert!(spread.len() > 8, "ids spread over the shards: {spread:?}");
    }
}
