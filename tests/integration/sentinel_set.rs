//! Part of the test harness: Redis Sentinel, a master, its replica and three sentinels on
//! loopback ports, from Debian's redis-server.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster_set::{redis_cli, require_binary, stdout_of, INSTALL_HINT};
use super::{free_port, serving_its_port, PORT_ATTEMPTS};

const MASTER_NAME: &str = "main";

/// A master, a replica and three sentinels, killed on drop.
pub struct RedisSentinel {
    pub master: u16,
    pub replica: u16,
    sentinels: Vec<u16>,
    children: Vec<(u16, Child)>,
    /// Each data server's directory by port, kept across restarts; the sentinels' too.
    dirs: Vec<(u16, tempfile::TempDir)>,
}

impl RedisSentinel {
    pub fn start() -> RedisSentinel {
        require_binary("redis-server");
        require_binary("redis-cli");
        for _ in 0..PORT_ATTEMPTS {
            if let Some(set) = RedisSentinel::try_start() {
                return set;
            }
            eprintln!("redis sentinel: a port was taken by another process; trying other ports");
        }
        panic!("redis sentinel: every set of free ports tried was taken by another process");
    }

    /// As [`RedisSentinel::start`], or `None` when a port turned out to be another process's.
    fn try_start() -> Option<RedisSentinel> {
        let (master, replica) = (free_port(), free_port());
        let sentinels: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut set = RedisSentinel {
            master,
            replica,
            sentinels: sentinels.clone(),
            children: Vec::new(),
            dirs: Vec::new(),
        };
        set.spawn(master, &[]);
        set.spawn(replica, &["--replicaof", "127.0.0.1", &master.to_string()]);
        if !set.serving_their_ports() {
            return None;
        }
        // The sentinels start once the replica is linked: a sentinel learns the replicas from
        // the master's INFO when it connects, and otherwise only at its next INFO, 10 s later.
        set.until(Duration::from_secs(60), "the replica's link", |s| {
            s.linked(replica)
        });
        for port in sentinels {
            let dir = tempfile::tempdir().expect("a temp dir for a sentinel");
            let conf = dir.path().join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 4000\n",
                    dir.path().display()
                ),
            )
            .expect("sentinel.conf");
            let child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start a sentinel ({e}). {INSTALL_HINT}"));
            set.children.push((port, child));
            set.dirs.push((port, dir));
        }
        if !set.serving_their_ports() {
            return None;
        }
        set.until_serving(master, replica);
        Some(set)
    }

    /// Wait until every process started so far answers PING; false as soon as one has exited
    /// or answers on a port that is not its own.
    fn serving_their_ports(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        self.children.iter_mut().all(|(port, child)| loop {
            let pong =
                redis_cli(*port, &["PING"]).is_ok_and(|out| stdout_of(&out).trim() == "PONG");
            if pong || !matches!(child.try_wait(), Ok(None)) {
                break serving_its_port(child, *port);
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not answer PING within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        })
    }

    /// Wait until `replica` is linked to `master` and every sentinel watches `master` with
    /// its replica and the other sentinels.
    fn until_serving(&self, master: u16, replica: u16) {
        // Generous: sentinels find each other through hello messages every 2 s, and on a loaded
        // 2-core machine (CI runs the Cluster and Sentinel sets side by side) that takes a while.
        self.until(
            Duration::from_secs(60),
            "the replica and the three sentinels",
            |s| {
                let watched = s.sentinels.iter().all(|&p| {
                    s.info(p, "sentinel").contains(&format!(
                        "status=ok,address=127.0.0.1:{master},slaves=1,sentinels=3"
                    ))
                });
                s.linked(replica) && watched
            },
        );
    }

    /// Start a data server on `port` with its own directory (the same one again on a restart).
    fn spawn(&mut self, port: u16, extra: &[&str]) {
        if !self.dirs.iter().any(|(p, _)| *p == port) {
            let dir = tempfile::tempdir().expect("a temp dir for redis");
            self.dirs.push((port, dir));
        }
        let dir = &self.dirs.iter().find(|(p, _)| *p == port).expect("dir").1;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            // A master otherwise waits 5 s for more replicas before a diskless full sync.
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}). {INSTALL_HINT}"));
        self.children.push((port, child));
    }

    /// Whether the replica on `port` has its link to its master up.
    fn linked(&self, port: u16) -> bool {
        self.info(port, "replication")
            .contains("master_link_status:up")
    }

    fn info(&self, port: u16, section: &str) -> String {
        redis_cli(port, &["INFO", section])
            .map(|o| stdout_of(&o))
            .unwrap_or_default()
    }

    fn until(&self, within: Duration, what: &str, done: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        while !done(self) {
            if started.elapsed() >= within {
                // What each server says, to tell a lost link from a lost port.
                let state: Vec<String> = self
                    .children
                    .iter()
                    .map(|(port, _)| {
                        let section = if self.sentinels.contains(port) {
                            "sentinel"
                        } else {
                            "replication"
                        };
                        format!("port {port}:\n{}", self.info(*port, section).trim())
                    })
                    .collect();
                panic!("{what} not ready within {within:?}\n{}", state.join("\n\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The service's URL: every sentinel and the master's name.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    /// The master's port as the first sentinel names it now.
    pub fn master(&self) -> u16 {
        let out = redis_cli(
            self.sentinels[0],
            &["SENTINEL", "get-master-addr-by-name", MASTER_NAME],
        )
        .expect("redis-cli");
        stdout_of(&out)
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Keys matching `pattern` on the current master.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let out = redis_cli(self.master(), &["--scan", "--pattern", pattern]).expect("redis-cli");
        stdout_of(&out).lines().map(str::to_string).collect()
    }

    /// SIGKILL the master and the replica (both down at once); the sentinels keep running.
    pub fn stop_servers(&mut self) {
        // After a failover the two have swapped roles: the sentinels say which is which.
        let master = self.master();
        if master == self.replica {
            self.replica = self.master;
        }
        self.master = master;
        for port in [self.master, self.replica] {
            self.kill(port);
        }
    }

    /// Start the master stopped by [`RedisSentinel::stop_servers`] and its replica again on
    /// their files; returns once the replica is linked and the sentinels see the master.
    pub fn restart_servers(&mut self) {
        let (master, replica) = (self.master, self.replica);
        self.spawn(master, &[]);
        self.spawn(replica, &["--replicaof", "127.0.0.1", &master.to_string()]);
        self.until_serving(master, replica);
    }

    /// Start the killed server on `port` again on its files, as a replica of the master the
    /// sentinels name now.
    pub fn restart_as_replica(&mut self, port: u16) {
        let master = self.master().to_string();
        self.spawn(port, &["--replicaof", "127.0.0.1", &master]);
    }

    /// SIGKILL the server on `port`.
    pub fn kill(&mut self, port: u16) {
        for (p, child) in &mut self.children {
            if *p == port {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
