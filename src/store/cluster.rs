//! Redis Cluster: a `redis+cluster://` URL names the seed nodes, the client learns the slots from
//! them and routes each command by its keys. What names no key (`SCAN`, `WAIT`) is sent to the
//! master of a key's slot by hand ([`LazyCluster::on_master_of`]).

use std::sync::Arc;
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, RedisResult, Value};

use super::{all_urls, invalid, split_authority, StoreError};

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

/// A cluster connection made on first use, and again after a failed attempt: like the single
/// mode's, the service starts while the cluster is unreachable and connects when it is back.
#[derive(Clone)]
pub struct LazyCluster {
    client: Arc<ClusterClient>,
    conn: Arc<tokio::sync::OnceCell<ClusterConnection>>,
}

impl LazyCluster {
    /// A client for the seed `nodes` ([`cluster_nodes`]); connects on first use.
    pub(super) fn new(
        nodes: Vec<String>,
        certificates: Option<redis::TlsCertificates>,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(timeout)
            .response_timeout(timeout);
        if let Some(certs) = certificates {
            builder = builder.certs(certs);
        }
        Ok(Self {
            client: Arc::new(builder.build()?),
            conn: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    pub(super) async fn get(&self) -> RedisResult<ClusterConnection> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }

    /// Run `cmd` on the master of `key`'s slot, for commands whose own arguments do not say
    /// where they belong.
    pub(super) async fn on_master_of(&self, key: &[u8], cmd: Cmd) -> RedisResult<Value> {
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
            key,
            SlotAddr::Master,
        )));
        self.get().await?.route_command(cmd, route).await
    }
}
