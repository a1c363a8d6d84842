//! Redis access shared by every part: the connection, the per-operation timeout, and keys under
//! the deployment's prefix (the layout itself is [`crate::keyspace`]'s).
//!
//! One [`Store`] handle over three topologies, one file each: a single Redis (`standalone.rs`),
//! a Redis Cluster (`cluster.rs`) and the master that Redis Sentinel names (`sentinel.rs`). The
//! rest of the crate never sees which one it has. `wait.rs` makes every scripted write wait for
//! replicas when `redis.wait_replicas` asks for it; `tls.rs` reads the certificates. At load,
//! [`check_config`] judges the `[redis]` settings that only the store understands.

mod cluster;
mod sentinel;
mod standalone;
mod tls;
mod wait;

use std::future::Future;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::{self, ConfigError};

pub use crate::keyspace::SHARDS;
pub use cluster::{cluster_nodes, LazyCluster};
pub use sentinel::{sentinel_target, LazySentinel, SentinelTarget};
pub use tls::install_crypto_provider;
pub use wait::Conn;

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
    conn: Conn,
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
    /// ACL user. `redis+cluster://` names a Cluster's seed nodes, `redis+sentinel://` the
    /// sentinels and the master's name ([`cluster_nodes`], [`sentinel_target`]); the same TLS
    /// settings and credentials apply.
    pub fn connect(cfg: &config::Redis, errors: Counter) -> Result<Self, StoreError> {
        install_crypto_provider();
        let timeout: Duration = cfg.timeout.into();
        let certificates = if cfg.has_tls_files() {
            Some(tls::certificates(cfg)?)
        } else {
            None
        };
        let url = cfg.url.expose();
        let link = if let Some(target) = sentinel_target(url) {
            Link::Sentinel(LazySentinel::new(target?, certificates, timeout)?)
        } else if let Some(nodes) = cluster_nodes(url) {
            Link::Cluster(LazyCluster::new(nodes?, certificates, timeout)?)
        } else {
            Link::Single(standalone::connect(url, certificates, timeout)?)
        };
        Ok(Self {
            conn: Conn::new(link, cfg.wait_replicas, timeout),
            prefix: cfg.prefix.clone(),
            timeout,
            errors,
        })
    }

    /// A connection to run commands on. Clones share one multiplexed connection (in Cluster
    /// mode, one per node, routed by each command's keys).
    pub fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// Run a command that names no key (`SCAN`) where `shard`'s keys live: in Cluster mode on
    /// the master of the shard's slot, otherwise on the one Redis.
    pub async fn query_in_shard<T: redis::FromRedisValue>(
        &self,
        shard: u16,
        cmd: &Cmd,
    ) -> Result<T, StoreError> {
        match self.conn.link() {
            Link::Single(_) | Link::Sentinel(_) => {
                let mut c = self.conn();
                self.run(cmd.query_async(&mut c)).await
            }
            Link::Cluster(cluster) => {
                let key = self.key(shard, "");
                let value = self
                    .run(cluster.on_master_of(key.as_bytes(), cmd.clone()))
                    .await?;
                redis::from_redis_value(value).map_err(|e| StoreError::Unavailable(e.into()))
            }
        }
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

    /// `<prefix>:{<shard>}:<rest>`.
    pub fn key(&self, shard: u16, rest: &str) -> String {
        crate::keyspace::key(&self.prefix, shard, rest)
    }

    /// The keys several modules' scripts share.
    pub fn keys(&self) -> crate::keyspace::Keys<'_> {
        crate::keyspace::Keys::new(&self.prefix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The `[redis]` settings only the store can judge, checked at load so that a bad one stops
/// start-up instead of failing every request: that `redis.url` is a URL of one of the three
/// topologies (told apart as [`Store::connect`] tells them apart), and the `tls_*` files.
/// Errors never show the URL: it may carry a password.
pub fn check_config(cfg: &config::Redis) -> Result<(), ConfigError> {
    let url = cfg.url.expose();
    let sentinel = sentinel_target(url);
    if let Some(Err(_)) = sentinel {
        return Err(ConfigError::new(
            "redis.url",
            "not a Redis Sentinel URL; list the sentinels and name the master like redis+sentinel://user:password@s1:26379,s2:26379/mymaster",
        ));
    }
    match cluster_nodes(url) {
        Some(Ok(_)) => {}
        Some(Err(_)) => {
            return Err(ConfigError::new(
                "redis.url",
                "not a Redis Cluster URL; list the seed nodes like redis+cluster://user:password@host1:6379,host2:6379",
            ))
        }
        None if sentinel.is_none() && !standalone::is_url(url) => {
            return Err(ConfigError::new(
                "redis.url",
                "not a Redis URL; write it like redis://host:6379, redis://user:password@host:6379/0, rediss://... for TLS or redis+cluster://host1:6379,host2:6379",
            ));
        }
        None => {}
    }
    tls::check_files(cfg)
}

/// `[user:password@]h1:p1,h2:p2`: the credentials with their `@` (or nothing), and the hosts.
/// How the Cluster and Sentinel URLs list their nodes.
fn split_authority(authority: &str) -> (String, Vec<&str>) {
    let (auth, hosts) = match authority.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), authority),
    };
    let hosts = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    (auth, hosts)
}

/// Whether each of `urls` is a URL the Redis client takes.
fn all_urls(urls: &[String]) -> bool {
    urls.iter().all(|u| standalone::is_url(u))
}

fn invalid(why: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, why))
}

/// A connection to one Redis, to a Redis Cluster, or to the master that Sentinel names.
#[derive(Clone)]
pub enum Link {
    Single(ConnectionManager),
    Cluster(LazyCluster),
    Sentinel(LazySentinel),
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Single(c) => c.req_packed_command(cmd),
            Link::Cluster(c) => {
                Box::pin(async move { c.get().await?.req_packed_command(cmd).await })
            }
            Link::Sentinel(c) => Box::pin(async move {
                let result = match c.get().await {
                    Ok(mut conn) => conn.req_packed_command(cmd).await,
                    Err(e) => Err(e),
                };
                c.check(result)
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Cluster(c) => Box::pin(async move {
                c.get()
                    .await?
                    .req_packed_commands(pipeline, offset, count)
                    .await
            }),
            Link::Sentinel(c) => Box::pin(async move {
                let result = match c.get().await {
                    Ok(mut conn) => conn.req_packed_commands(pipeline, offset, count).await,
                    Err(e) => Err(e),
                };
                c.check(result)
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Single(c) => c.get_db(),
            Link::Cluster(_) | Link::Sentinel(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests;
