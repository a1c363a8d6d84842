//! Redis Sentinel: a `redis+sentinel://` URL names the sentinels and the master's name; the
//! sentinels say which node is the master, now and after a failover.

use std::sync::Arc;
use std::time::Duration;

use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::RedisResult;

use super::{all_urls, invalid, split_authority, StoreError};

/// What a `redis+sentinel://` URL names: the sentinels, the master's name, and how to log in
/// to the master.
#[derive(Debug, Clone)]
pub struct SentinelTarget {
    pub sentinels: Vec<String>,
    pub master: String,
    pub redis: redis::RedisConnectionInfo,
    pub tls: bool,
}

/// The target of a `redis+sentinel://[user:password@]s1:26379,s2:26379/<master name>` URL
/// (`rediss+sentinel://` with TLS to the sentinels and the master). The credentials are the
/// master's; the sentinels are asked without them. `None` for any other URL.
pub fn sentinel_target(url: &str) -> Option<RedisResult<SentinelTarget>> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let (scheme, tls) = match scheme.to_ascii_lowercase().as_str() {
        "redis+sentinel" => ("redis", false),
        "rediss+sentinel" => ("rediss", true),
        _ => return None,
    };
    const SHAPE: &str =
        "a sentinel URL ends with the master's name: redis+sentinel://s1:26379,s2:26379/mymaster";
    let Some((authority, master)) = rest.rsplit_once('/') else {
        return Some(Err(invalid(SHAPE)));
    };
    if master.is_empty() || authority.contains('/') {
        return Some(Err(invalid(SHAPE)));
    }
    let (auth, hosts) = split_authority(authority);
    let sentinels: Vec<String> = hosts.iter().map(|h| format!("{scheme}://{h}")).collect();
    let Some(first) = hosts.first() else {
        return Some(Err(invalid(
            "a sentinel URL needs at least one sentinel host:port",
        )));
    };
    if !all_urls(&sentinels) {
        return Some(Err(invalid("every sentinel must be host:port")));
    }
    // The credentials, parsed (and percent-decoded) as the single mode parses them.
    let info = redis::IntoConnectionInfo::into_connection_info(format!("{scheme}://{auth}{first}"));
    Some(info.map(|info| SentinelTarget {
        sentinels,
        master: master.to_string(),
        redis: info.redis_settings().clone(),
        tls,
    }))
}

/// The master Sentinel names, asked for on first use and again after any error that says the
/// connection is gone or the node is no longer the master (`READONLY`): after a failover the
/// next command goes to the new master. Commands that fail meanwhile fail (503 upstream).
#[derive(Clone)]
pub struct LazySentinel {
    sentinel: Arc<tokio::sync::Mutex<SentinelClient>>,
    certificates: Option<Arc<redis::TlsCertificates>>,
    master: Arc<std::sync::Mutex<Option<redis::aio::MultiplexedConnection>>>,
    config: redis::AsyncConnectionConfig,
}

impl LazySentinel {
    pub(super) fn new(
        target: SentinelTarget,
        certificates: Option<redis::TlsCertificates>,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut node =
            SentinelNodeConnectionInfo::default().set_redis_connection_info(target.redis);
        if target.tls {
            node = node.set_tls_mode(redis::TlsMode::Secure);
        }
        let client = SentinelClient::build(
            target.sentinels,
            target.master,
            Some(node),
            SentinelServerType::Master,
        )?;
        Ok(Self {
            sentinel: Arc::new(tokio::sync::Mutex::new(client)),
            certificates: certificates.map(Arc::new),
            master: Arc::new(std::sync::Mutex::new(None)),
            config: redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout)),
        })
    }

    fn cached(&self) -> Option<redis::aio::MultiplexedConnection> {
        self.master.lock().ok().and_then(|m| m.clone())
    }

    pub(super) async fn get(&self) -> RedisResult<redis::aio::MultiplexedConnection> {
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let client = self.sentinel.lock().await.async_get_client().await?;
        let client = match &self.certificates {
            Some(certs) => redis::Client::build_with_tls(
                client.get_connection_info().clone(),
                redis::TlsCertificates::clone(certs),
            )?,
            None => client,
        };
        let conn = client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        if let Ok(mut master) = self.master.lock() {
            *master = Some(conn.clone());
        }
        Ok(conn)
    }

    /// Forget the master after an error that may mean it moved.
    pub(super) fn check<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(e) = &result {
            if e.is_io_error()
                || e.is_connection_dropped()
                || e.is_connection_refusal()
                || e.is_timeout()
                || e.code() == Some("READONLY")
            {
                if let Ok(mut master) = self.master.lock() {
                    *master = None;
                }
            }
        }
        result
    }
}
