//! Part of the test harness: a real Redis Cluster on loopback: three masters and three replicas,
//! each a `redis-server` child process with its own temp dir (AOF, `nodes.conf`, log), joined with
//! `redis-cli --cluster create`. Every process is killed on drop.
//!
//! Everything here talks to the nodes through `redis-cli`, so the harness does not depend on the
//! cluster support of any Rust client.

use std::fs::File;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{serving_its_port, PORT_ATTEMPTS};

/// How long the cluster may take to reach `cluster_state:ok` with every slot assigned.
const READY_DEADLINE: Duration = Duration::from_secs(60);
/// Redis Cluster's slot count.
const SLOTS: u32 = 16384;
/// The cluster bus listens on the client port plus this.
const BUS_OFFSET: u16 = 10000;

pub const INSTALL_HINT: &str = "The integration tests need a real Redis: install it \
                            (apt-get install redis-server, which brings redis-cli too) or run \
                            ./scripts/test, which does";

/// One `redis-server` of the cluster. `child` is `None` once the node was killed.
struct Node {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// A 3-master, 3-replica Redis Cluster on 127.0.0.1. Killed on drop.
pub struct RedisCluster {
    nodes: Vec<Node>,
    /// The client ports of the masters as created, in slot order.
    masters: Vec<u16>,
}

impl RedisCluster {
    /// 3 masters + 3 replicas on free loopback ports, AOF on, `cluster-node-timeout 2000`;
    /// returns once `CLUSTER INFO` on every node says `cluster_state:ok` with all 16384 slots
    /// assigned. Panics (never skips) when redis-server or redis-cli is missing or the cluster is
    /// not ready within 30 s.
    pub fn start() -> RedisCluster {
        require_binary("redis-server");
        require_binary("redis-cli");
        for _ in 0..PORT_ATTEMPTS {
            if let Some(cluster) = RedisCluster::try_start() {
                return cluster;
            }
            eprintln!("redis cluster: a port was taken by another process; trying other ports");
        }
        panic!("redis cluster: every set of free ports tried was taken by another process");
    }

    /// As [`RedisCluster::start`], or `None` when a node's port (or its bus port) turned out to
    /// be another process's: that node exited, or someone else's server answered there.
    fn try_start() -> Option<RedisCluster> {
        // Built first so that a panic below still kills whatever was already started.
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            masters: Vec::new(),
        };
        for port in free_cluster_ports(6) {
            let dir = tempfile::tempdir().expect("a temp dir for a redis cluster node");
            let child = spawn_node(port, dir.path());
            cluster.nodes.push(Node {
                port,
                child: Some(child),
                dir,
            });
        }

        let started = Instant::now();
        let deadline = started + READY_DEADLINE;
        for i in 0..cluster.nodes.len() {
            let port = cluster.nodes[i].port;
            while redis_cli(port, &["PING"])
                .map(|out| stdout_of(&out).trim() != "PONG")
                .unwrap_or(true)
            {
                let child = cluster.nodes[i].child.as_mut().expect("just started");
                if !matches!(child.try_wait(), Ok(None)) {
                    return None;
                }
                if Instant::now() > deadline {
                    panic!(
                        "redis-server on port {} did not answer PING within {:?}\n{}",
                        port,
                        READY_DEADLINE,
                        cluster.logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let child = cluster.nodes[i].child.as_mut().expect("just started");
            if !serving_its_port(child, port) {
                return None;
            }
        }

        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let created = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}). {INSTALL_HINT}"));
        let create_log = format!(
            "redis-cli --cluster create exited with {}:\n{}{}",
            created.status,
            stdout_of(&created),
            String::from_utf8_lossy(&created.stderr)
        );
        if !created.status.success() {
            panic!("{create_log}\n{}", cluster.logs());
        }

        cluster.until_ready(deadline, &create_log);

        let mut masters = cluster.slot_owners();
        masters.sort();
        let mut masters: Vec<u16> = masters.into_iter().map(|(_, port)| port).collect();
        masters.dedup();
        assert_eq!(
            masters.len(),
            3,
            "expected 3 masters after cluster create, CLUSTER NODES:\n{}",
            cluster.cluster_nodes()
        );
        cluster.masters = masters;
        eprintln!(
            "redis cluster on ports {:?} (masters {:?}) ready in {:?}",
            cluster.nodes.iter().map(|n| n.port).collect::<Vec<_>>(),
            cluster.masters,
            started.elapsed()
        );
        Some(cluster)
    }

    /// Wait until every node says `cluster_state:ok` with all slots assigned and 6 known nodes,
    /// and every replica's link to its master is up; panics at `deadline` with `context` and
    /// the nodes' logs.
    fn until_ready(&self, deadline: Instant, context: &str) {
        loop {
            let not_ready: Vec<String> = self
                .nodes
                .iter()
                .filter_map(|node| {
                    let info = redis_cli(node.port, &["CLUSTER", "INFO"])
                        .map(|out| stdout_of(&out))
                        .unwrap_or_default();
                    // A replica counts once its link to its master is up (a write can then
                    // reach it: `WAIT` and failover need that).
                    let replication = redis_cli(node.port, &["INFO", "replication"])
                        .map(|out| stdout_of(&out))
                        .unwrap_or_default();
                    let linked = info_field(&replication, "role") == Some("master")
                        || info_field(&replication, "master_link_status") == Some("up");
                    let ok = info_field(&info, "cluster_state") == Some("ok")
                        && info_field(&info, "cluster_slots_assigned") == Some(&*SLOTS.to_string())
                        && info_field(&info, "cluster_known_nodes") == Some("6")
                        && linked;
                    (!ok).then(|| {
                        format!(
                            "port {}:\n{}\n{}",
                            node.port,
                            info.trim(),
                            replication.trim()
                        )
                    })
                })
                .collect();
            if not_ready.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "the Redis Cluster was not ready (cluster_state:ok, all {SLOTS} slots \
                     assigned, 6 known nodes on every node, every replica linked) within {READY_DEADLINE:?}. \
                     Not ready:\n{}\n\n{context}\n{}",
                    not_ready.join("\n\n"),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Seed node URLs: `["redis://127.0.0.1:p1", ...]` (the masters).
    pub fn nodes(&self) -> Vec<String> {
        self.masters
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// The hash slot of `key`, as a live node computes it.
    pub fn slot_of(&self, key: &str) -> u16 {
        let node = self
            .nodes
            .iter()
            .find(|n| n.child.is_some())
            .expect("a live cluster node");
        let out = redis_cli(node.port, &["CLUSTER", "KEYSLOT", key]).expect("redis-cli");
        stdout_of(&out).trim().parse().expect("a slot number")
    }

    /// Port of the master that owns `slot`, as `CLUSTER NODES` on a live node reports it.
    pub fn master_of_slot(&self, slot: u16) -> u16 {
        assert!(u32::from(slot) < SLOTS, "slot {slot} out of range");
        self.slot_owners()
            .into_iter()
            .find(|((start, end), _)| (*start..=*end).contains(&slot))
            .map(|(_, port)| port)
            .unwrap_or_else(|| {
                panic!(
                    "no master owns slot {slot}; CLUSTER NODES:\n{}",
                    self.cluster_nodes()
                )
            })
    }

    /// Start the node on `port` again on its own files: a killed master comes back as a replica
    /// of the one that replaced it.
    pub fn restart(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no cluster node on port {port}"));
        assert!(node.child.is_none(), "node {port} is running");
        node.child = Some(spawn_node(port, node.dir.path()));
    }

    /// SIGKILL the node on `port` (for failover tests); its temp dir stays until drop.
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .unwrap_or_else(|| panic!("no cluster node on port {port}"));
        if let Some(mut child) = node.child.take() {
            // `Child::kill` is SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL every node (the whole cluster down, as a power cut would); files stay.
    pub fn stop_all(&mut self) {
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        for port in ports {
            self.kill(port);
        }
    }

    /// Start every stopped node again on its own files; returns once the cluster serves again.
    pub fn restart_all(&mut self) {
        for node in &mut self.nodes {
            if node.child.is_none() {
                node.child = Some(spawn_node(node.port, node.dir.path()));
            }
        }
        self.until_ready(
            Instant::now() + READY_DEADLINE,
            "after a restart of every node",
        );
    }

    /// All keys matching `pattern` across every (live, current) master, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut masters: Vec<u16> = self
            .slot_owners()
            .into_iter()
            .map(|(_, port)| port)
            .filter(|port| self.is_alive(*port))
            .collect();
        masters.sort();
        masters.dedup();
        let mut keys = Vec::new();
        for port in masters {
            let out = redis_cli(port, &["--scan", "--pattern", pattern])
                .unwrap_or_else(|e| panic!("redis-cli --scan on port {port}: {e}"));
            assert!(
                out.status.success(),
                "redis-cli --scan on port {port} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            keys.extend(stdout_of(&out).lines().map(str::to_owned));
        }
        keys.sort();
        keys.dedup();
        keys
    }

    fn is_alive(&self, port: u16) -> bool {
        self.nodes
            .iter()
            .any(|n| n.port == port && n.child.is_some())
    }

    /// `CLUSTER NODES` from the first live node that answers it.
    fn cluster_nodes(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .filter_map(|n| redis_cli(n.port, &["CLUSTER", "NODES"]).ok())
            .filter(|out| out.status.success())
            .map(|out| stdout_of(&out))
            .find(|text| !text.trim().is_empty() && !text.starts_with("ERR"))
            .unwrap_or_else(|| panic!("no live cluster node answers CLUSTER NODES"))
    }

    /// Every slot range a master owns, with that master's client port, per `CLUSTER NODES`
    /// (`<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`).
    fn slot_owners(&self) -> Vec<((u16, u16), u16)> {
        let mut owners = Vec::new();
        for line in self.cluster_nodes().lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 || !fields[2].split(',').any(|f| f == "master") {
                continue;
            }
            let port: u16 = fields[1]
                .split('@')
                .next()
                .and_then(|addr| addr.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("unparsable CLUSTER NODES line: {line}"));
            // Slot entries: `5461`, `0-5460`; `[slot->-id]` / `[slot-<-id]` mark migrations.
            for slot in fields[8..].iter().filter(|s| !s.starts_with('[')) {
                let range = match slot.split_once('-') {
                    Some((a, b)) => (a.parse(), b.parse()),
                    None => (slot.parse(), slot.parse()),
                };
                if let (Ok(start), Ok(end)) = range {
                    owners.push(((start, end), port));
                }
            }
        }
        owners
    }

    /// The tail of every node's log, for failure messages.
    fn logs(&self) -> String {
        let mut text = String::new();
        for node in &self.nodes {
            let log = std::fs::read_to_string(node.dir.path().join("redis.log"))
                .unwrap_or_else(|e| format!("(no log: {e})"));
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            text.push_str(&format!(
                "--- redis-server :{} log tail ---\n{tail}\n",
                node.port
            ));
        }
        text
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Panic with an install hint unless `binary` runs.
pub fn require_binary(binary: &str) {
    match Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{binary} --version` failed ({}). {INSTALL_HINT}",
            out.status
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("{binary} is not on PATH. {INSTALL_HINT}")
        }
        Err(e) => panic!("cannot run {binary} ({e}). {INSTALL_HINT}"),
    }
}

/// `count` distinct ports p < 55535 where both p and its bus port p + 10000 are free on
/// 127.0.0.1. The listeners are held until all are chosen, so the ports are distinct.
fn free_cluster_ports(count: usize) -> Vec<u16> {
    let mut held: Vec<(TcpListener, TcpListener)> = Vec::new();
    let mut attempts = 0;
    while held.len() < count {
        attempts += 1;
        assert!(
            attempts < 10_000,
            "no free loopback port pairs (p, p+10000) found"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        if port >= 65535 - BUS_OFFSET {
            continue;
        }
        if let Ok(bus) = TcpListener::bind(("127.0.0.1", port + BUS_OFFSET)) {
            held.push((listener, bus));
        }
    }
    held.iter()
        .map(|(l, _)| l.local_addr().expect("local addr").port())
        .collect()
}

fn spawn_node(port: u16, dir: &std::path::Path) -> Child {
    let log = File::create(dir.join("redis.log")).expect("a redis log file");
    Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", "nodes.conf"])
        .args(["--cluster-node-timeout", "2000"])
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .args(["--save", ""])
        // A master otherwise waits 5 s for more replicas before a diskless full sync.
        .args(["--repl-diskless-sync-delay", "0"])
        .arg("--dir")
        .arg(dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server ({e}). {INSTALL_HINT}"))
}

/// `redis-cli -h 127.0.0.1 -p <port> <args>`.
pub fn redis_cli(port: u16, args: &[&str]) -> std::io::Result<Output> {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `field` in `CLUSTER INFO`'s `field:value` lines.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(name, _)| *name == field)
        .map(|(_, value)| value)
}

/// The service's `redis+cluster://` URL for `cluster`'s masters.
pub fn cluster_url(cluster: &RedisCluster) -> String {
    let hosts: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| n.trim_start_matches("redis://").to_string())
        .collect();
    format!("redis+cluster://{}", hosts.join(","))
}
