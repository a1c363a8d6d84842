//! Redis access shared by every part: the connection, the per-operation timeout, and keys under
//! the deployment's prefix (the layout itself is [`crate::keyspace`]'s).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::config;

pub use crate::keyspace::SHARDS;

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
            Some(tls_certificates(cfg)?)
        } else {
            None
        };
        let link = if let Some(target) = sentinel_target(cfg.url.expose()) {
            Link::Sentinel(LazySentinel::new(target?, certificates, timeout)?)
        } else {
            Store::cluster_or_single(cfg, certificates, timeout)?
        };
        let wait = (cfg.wait_replicas > 0).then(|| Wait {
            replicas: cfg.wait_replicas,
            timeout_ms: u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        });
        let conn = Conn { link, wait };
        Ok(Self {
            conn,
            prefix: cfg.prefix.clone(),
            timeout,
            errors,
        })
    }

    fn cluster_or_single(
        cfg: &config::Redis,
        certificates: Option<redis::TlsCertificates>,
        timeout: Duration,
    ) -> Result<Link, StoreError> {
        Ok(match cluster_nodes(cfg.url.expose()) {
            Some(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes?)
                    .connection_timeout(timeout)
                    .response_timeout(timeout);
                if let Some(certs) = certificates {
                    builder = builder.certs(certs);
                }
                Link::Cluster(LazyCluster {
                    client: Arc::new(builder.build()?),
                    conn: Arc::new(tokio::sync::OnceCell::new()),
                })
            }
            None => {
                let client = match certificates {
                    Some(certs) => redis::Client::build_with_tls(cfg.url.expose(), certs)?,
                    None => redis::Client::open(cfg.url.expose())?,
                };
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                Link::Single(ConnectionManager::new_lazy_with_config(
                    client,
                    manager_config,
                )?)
            }
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
        match &self.conn.link {
            Link::Single(_) | Link::Sentinel(_) => {
                let mut c = self.conn();
                self.run(cmd.query_async(&mut c)).await
            }
            Link::Cluster(cluster) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::with_key(self.key(shard, ""), SlotAddr::Master),
                ));
                let value = self
                    .run(async { cluster.get().await?.route_command(cmd.clone(), route).await })
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

/// The node URLs of a `redis+cluster://` (or `rediss+cluster://`) URL: the credentials, if
/// any, followed by comma-separated seed nodes (`redis+cluster://user:pass@h1:7000,h2:7000`).
/// `None` for any other URL.
pub fn cluster_nodes(url: &str) -> Option<RedisResult<Vec<String>>> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" => "redis",
        "rediss+cluster" => "rediss",
        _ => return None,
    };
    let (auth, hosts) = split_authority(rest.trim_end_matches('/'));
    if hosts.is_empty() {
        return Some(Err(invalid("a cluster URL needs at least one host:port")));
    }
    if hosts.iter().any(|h| h.contains('/')) {
        return Some(Err(invalid(
            "every cluster node is host:port (a cluster has no database numbers)",
        )));
    }
    let nodes: Vec<String> = hosts
        .iter()
        .map(|h| format!("{scheme}://{auth}{h}"))
        .collect();
    if !all_urls(&nodes) {
        return Some(Err(invalid("every cluster node must be host:port")));
    }
    Some(Ok(nodes))
}

/// `[user:password@]h1:p1,h2:p2`: the credentials with their `@` (or nothing), and the hosts.
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
    urls.iter().all(|u| redis::Client::open(u.as_str()).is_ok())
}

fn invalid(why: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, why))
}

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

/// A connection to run commands on: the link to Redis, and the replicas each atomic step must
/// reach before it counts as done (`redis.wait_replicas`).
#[derive(Clone)]
pub struct Conn {
    link: Link,
    wait: Option<Wait>,
}

/// `WAIT <replicas> <timeout>` after every script.
#[derive(Clone, Copy, Debug)]
struct Wait {
    replicas: u32,
    timeout_ms: u64,
}

/// A connection to one Redis, to a Redis Cluster, or to the master that Sentinel names.
#[derive(Clone)]
pub enum Link {
    Single(ConnectionManager),
    Cluster(LazyCluster),
    Sentinel(LazySentinel),
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
    fn new(
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

    async fn get(&self) -> RedisResult<redis::aio::MultiplexedConnection> {
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
    fn check<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
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

/// A cluster connection made on first use, and again after a failed attempt: like the single
/// mode's, the service starts while the cluster is unreachable and connects when it is back.
#[derive(Clone)]
pub struct LazyCluster {
    client: Arc<ClusterClient>,
    conn: Arc<tokio::sync::OnceCell<ClusterConnection>>,
}

impl LazyCluster {
    async fn get(&self) -> RedisResult<ClusterConnection> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

/// The first key of an `EVALSHA`/`EVAL`/`FCALL`, if `cmd` is one: the atomic steps are scripts.
fn script_key(cmd: &Cmd) -> Option<Option<Vec<u8>>> {
    let mut args = cmd.args_iter().map(|a| match a {
        redis::Arg::Simple(b) => b,
        _ => &[][..],
    });
    let name = args.next()?;
    let scripted = [&b"EVALSHA"[..], b"EVAL", b"FCALL"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n));
    if !scripted {
        return None;
    }
    let _body = args.next();
    let keys: usize = std::str::from_utf8(args.next().unwrap_or_default())
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some(if keys > 0 {
        args.next().map(<[u8]>::to_vec)
    } else {
        None
    })
}

impl Link {
    /// `WAIT` on the node that ran a script whose first key is `key`; an error unless enough
    /// replicas acknowledged everything this connection wrote.
    async fn wait(&mut self, wait: Wait, key: Option<Vec<u8>>) -> RedisResult<()> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(wait.replicas).arg(wait.timeout_ms);
        let reply = match (&*self, key) {
            (Link::Cluster(c), Some(key)) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::with_key(key, SlotAddr::Master),
                ));
                c.get().await?.route_command(cmd, route).await?
            }
            _ => self.req_packed_command(&cmd).await?,
        };
        let acknowledged: i64 = redis::from_redis_value(reply)?;
        if acknowledged < i64::from(wait.replicas) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "too few replicas acknowledged the write",
                format!(
                    "{acknowledged} of the {} that redis.wait_replicas asks for",
                    wait.replicas
                ),
            )));
        }
        Ok(())
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match (self.wait, script_key(cmd)) {
            (Some(wait), Some(key)) => Box::pin(async move {
                let value = self.link.req_packed_command(cmd).await?;
                self.link.wait(wait, key).await?;
                Ok(value)
            }),
            _ => self.link.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.link.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.link.get_db()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_told_apart_with_their_first_key() {
        let mut eval = redis::cmd("EVALSHA");
        eval.arg("abc")
            .arg(2)
            .arg("bg:{3}:incident:x")
            .arg("k2")
            .arg("argv");
        assert_eq!(script_key(&eval), Some(Some(b"bg:{3}:incident:x".to_vec())));
        let mut keyless = redis::cmd("evalsha");
        keyless.arg("abc").arg(0).arg("argv");
        assert_eq!(script_key(&keyless), Some(None));
        let mut get = redis::cmd("GET");
        get.arg("k");
        assert_eq!(script_key(&get), None);
        assert_eq!(script_key(&redis::cmd("EVALSHA")), Some(None));
    }

    #[test]
    fn a_sentinel_url_names_the_sentinels_the_master_and_its_login() {
        let t = sentinel_target("redis+sentinel://app:p%40ss@10.0.0.1:26379, 10.0.0.2:26380/main")
            .unwrap()
            .unwrap();
        assert_eq!(
            t.sentinels,
            ["redis://10.0.0.1:26379", "redis://10.0.0.2:26380"]
        );
        assert_eq!(t.master, "main");
        assert_eq!(t.redis.username(), Some("app"));
        assert_eq!(t.redis.password(), Some("p@ss"));
        assert!(!t.tls);
        assert!(
            sentinel_target("rediss+sentinel://h:26379/m")
                .unwrap()
                .unwrap()
                .tls
        );
        assert!(sentinel_target("redis://h:6379").is_none());
        assert!(sentinel_target("redis+cluster://h:6379").is_none());
        for bad in [
            "redis+sentinel://h:26379",
            "redis+sentinel://h:26379/",
            "redis+sentinel:///m",
            "redis+sentinel://h:26379/0/m",
            "redis+sentinel://h:x/m",
        ] {
            assert!(matches!(sentinel_target(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn a_cluster_url_lists_its_seed_nodes_with_the_credentials() {
        let nodes = |u: &str| cluster_nodes(u).map(|r| r.map_err(|e| e.to_string()));
        assert_eq!(
            nodes("redis+cluster://u:p@10.0.0.1:7000, 10.0.0.2:7001"),
            Some(Ok(vec![
                "redis://u:p@10.0.0.1:7000".to_string(),
                "redis://u:p@10.0.0.2:7001".to_string()
            ]))
        );
        assert_eq!(
            nodes("rediss+cluster://h:6380/"),
            Some(Ok(vec!["rediss://h:6380".to_string()]))
        );
        assert_eq!(nodes("redis://h:6379"), None);
        assert_eq!(nodes("rediss://h:6379"), None);
        for bad in [
            "redis+cluster://",
            "redis+cluster://u:p@",
            "redis+cluster://h:7000/0",
            "redis+cluster://h:notaport",
        ] {
            assert!(matches!(nodes(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(
            crate::keyspace::of("pagerduty:PFQZPSY"),
            crate::keyspace::of("pagerduty:PFQZPSY")
        );
        let spread: std::collections::HashSet<u16> = (0..200)
            .map(|i| crate::keyspace::of(&format!("opsgenie:{i}")))
            .collect();
        assert!(spread.iter().all(|s| *s < SHARDS));
        assert!(spread.len() > 8, "ids spread over the shards: {spread:?}");
    }
}
