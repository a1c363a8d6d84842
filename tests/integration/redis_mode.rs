//! Part of the test harness: the Redis every test app runs on, chosen for the whole run by `BREAKGLASS_TEST_REDIS`:
//! `single` (the default: one redis-server), `cluster` (3 masters + 3 replicas) or `sentinel`
//! (a master, its replica and 3 sentinels). The tests are the same in every mode: they start a
//! [`Redis`], give the app its [`Redis::url`], and read raw keys through [`Redis::conn`] and
//! [`Redis::keys`]. `.ci/run` runs the lifecycle tests once more in each of the other modes.

use super::cluster_set::{cluster_url, RedisCluster};
use super::sentinel_set::RedisSentinel;
use super::RedisServer;

/// The setting that picks the mode.
pub const MODE_VARIABLE: &str = "BREAKGLASS_TEST_REDIS";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Single,
    Cluster,
    Sentinel,
}

impl Mode {
    /// The mode `BREAKGLASS_TEST_REDIS` names; an unknown value panics rather than running the
    /// tests in a mode nobody asked for.
    pub fn from_env() -> Mode {
        match std::env::var(MODE_VARIABLE).as_deref() {
            Err(_) | Ok("") | Ok("single") => Mode::Single,
            Ok("cluster") => Mode::Cluster,
            Ok("sentinel") => Mode::Sentinel,
            Ok(other) => panic!("{MODE_VARIABLE}={other:?}: expected single, cluster or sentinel"),
        }
    }
}

/// A test's Redis: one server, a Cluster or a Sentinel set-up. Every process is killed on drop.
pub enum Redis {
    Single(RedisServer),
    Cluster(RedisCluster),
    Sentinel(RedisSentinel),
}

impl From<RedisServer> for Redis {
    fn from(server: RedisServer) -> Redis {
        Redis::Single(server)
    }
}

impl Redis {
    /// A fresh Redis in the run's mode ([`Mode::from_env`]).
    pub fn start() -> Redis {
        match Mode::from_env() {
            Mode::Single => Redis::Single(RedisServer::start()),
            Mode::Cluster => Redis::Cluster(RedisCluster::start()),
            Mode::Sentinel => Redis::Sentinel(RedisSentinel::start()),
        }
    }

    /// A redis-server that speaks only TLS, whatever the mode ([`RedisServer::start_tls`]).
    pub fn start_tls() -> Redis {
        Redis::Single(RedisServer::start_tls())
    }

    /// As [`Redis::start_tls`], with client certificates required.
    pub fn start_mtls() -> Redis {
        Redis::Single(RedisServer::start_mtls())
    }

    fn server(&self) -> &RedisServer {
        match self {
            Redis::Single(server) => server,
            _ => panic!("a single redis-server was expected here"),
        }
    }

    pub fn tls_ca_file(&self) -> Option<&std::path::Path> {
        self.server().tls_ca_file()
    }

    pub fn tls_client_files(&self) -> (std::path::PathBuf, std::path::PathBuf) {
        self.server().tls_client_files()
    }

    /// The URL the app is given: `redis://`, `rediss://`, `redis+cluster://` or
    /// `redis+sentinel://`.
    pub fn url(&self) -> String {
        match self {
            Redis::Single(server) => server.url(),
            Redis::Cluster(cluster) => cluster_url(cluster),
            Redis::Sentinel(set) => set.url(),
        }
    }

    /// A synchronous connection for assertions on raw keys: a cluster connection follows each
    /// key to its master; in Sentinel mode it is a connection to the current master.
    pub fn conn(&self) -> Conn {
        match self {
            Redis::Single(server) => Conn::Single(server.conn()),
            Redis::Cluster(cluster) => Conn::Cluster(Box::new(
                redis::cluster::ClusterClient::new(cluster.nodes())
                    .and_then(|client| client.get_connection())
                    .expect("connect to the test cluster"),
            )),
            Redis::Sentinel(set) => Conn::Single(
                redis::Client::open(format!("redis://127.0.0.1:{}", set.master()))
                    .and_then(|client| client.get_connection())
                    .expect("connect to the sentinel-managed master"),
            ),
        }
    }

    /// Every key with the given prefix, sorted, except the reconciler's lock: every running app
    /// takes that one by itself, whatever the test sends it.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let pattern = format!("{prefix}:*");
        let mut keys = match self {
            Redis::Single(server) => server.keys(&pattern),
            Redis::Cluster(cluster) => cluster.keys(&pattern),
            Redis::Sentinel(set) => set.keys(&pattern),
        };
        let lock = format!("{prefix}:reconciler:lock");
        keys.retain(|k| *k != lock);
        keys.sort();
        keys
    }

    /// Kill every data server (as a crash would); data stays on disk, sentinels keep running.
    pub fn stop(&mut self) {
        match self {
            Redis::Single(server) => server.stop(),
            Redis::Cluster(cluster) => cluster.stop_all(),
            Redis::Sentinel(set) => set.stop_servers(),
        }
    }

    /// Start them again on the same ports and files; returns once they serve again.
    pub fn restart(&mut self) {
        match self {
            Redis::Single(server) => server.restart(),
            Redis::Cluster(cluster) => cluster.restart_all(),
            Redis::Sentinel(set) => set.restart_servers(),
        }
    }
}

/// A synchronous connection of either kind, for `redis::cmd(..).query(&mut conn)`.
pub enum Conn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    fn inner(&mut self) -> &mut dyn redis::ConnectionLike {
        match self {
            Conn::Single(conn) => conn,
            Conn::Cluster(conn) => conn.as_mut(),
        }
    }

    fn inner_ref(&self) -> &dyn redis::ConnectionLike {
        match self {
            Conn::Single(conn) => conn,
            Conn::Cluster(conn) => conn.as_ref(),
        }
    }
}

impl redis::ConnectionLike for Conn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        self.inner().req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        self.inner().req_packed_commands(cmd, offset, count)
    }

    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        self.inner().req_command(cmd)
    }

    fn get_db(&self) -> i64 {
        self.inner_ref().get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.inner_ref().supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.inner().check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner_ref().is_open()
    }
}
