//! The service as its own process: the release `breakglass serve` binary with a config file,
//! on its own port, its log in a file. Start-up is timed from the spawn to the first `200` of
//! `GET /readyz` (polled every 5 ms); memory and CPU time are read from `/proc/<pid>`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{config_toml, free_port, Extra, AUDIT_KEY};

/// The `breakglass` binary: `PERF_BINARY` if set, else the one Cargo built for this bench.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("PERF_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_breakglass")));
    assert!(
        path.is_file(),
        "no breakglass binary at {}: run `cargo build --release --bin breakglass`, or ./scripts/bench",
        path.display()
    );
    path
}

/// Memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident now.
    pub rss_kib: u64,
    /// The most it was ever resident (high-water mark).
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> Memory {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

/// User + system CPU seconds a process has used, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Settings that would override the config file: a developer's shell must not change the run.
const OVERRIDES: [&str; 5] = [
    "BREAKGLASS_CONFIG",
    "BREAKGLASS_LISTEN",
    "BREAKGLASS_REDIS_URL",
    "BREAKGLASS_REDIS_PREFIX",
    "BREAKGLASS_AWS_ENDPOINT_URL",
];

/// A running `breakglass serve`.
pub struct Service {
    child: tokio::process::Child,
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl Service {
    /// Write `config` (the test config, whose `listen = "127.0.0.1:0"` becomes a free port) to
    /// `dir/<name>.toml`, start the binary on it, and wait for `/readyz` to answer `200`.
    /// Returns the service and the time from the spawn to that answer.
    pub async fn start(bin: &Path, dir: &Path, name: &str, config: &str) -> (Service, Duration) {
        let port = free_port();
        let listen = "listen = \"127.0.0.1:0\"";
        assert!(config.contains(listen), "the config has no {listen}");
        let config = config.replace(listen, &format!("listen = \"127.0.0.1:{port}\""));
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, config).expect("write the service's config");
        let log = dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("the service's log file");
        let mut command = tokio::process::Command::new(bin);
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true);
        for name in OVERRIDES {
            command.env_remove(name);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let ready_url = format!("{base}/readyz");
        let spawned = Instant::now();
        let child = command.spawn().expect("start breakglass serve");
        let pid = child.id().expect("the service's pid");
        let mut service = Service {
            child,
            pid,
            base,
            log,
        };
        loop {
            if let Ok(res) = http.get(&ready_url).send().await {
                if res.status() == reqwest::StatusCode::OK {
                    return (service, spawned.elapsed());
                }
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!(
                    "breakglass serve exited at start ({status}):\n{}",
                    service.log_tail()
                );
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(30),
                "breakglass serve was not ready within 30 s:\n{}",
                service.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn memory(&self) -> Memory {
        memory(self.pid)
    }

    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Lines of the log at ERROR level (5xx answers, failed grants): how many, and the first.
    pub fn error_lines(&self) -> (usize, Option<String>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut errors = text.lines().filter(|l| l.contains("\"level\":\"ERROR\""));
        let first = errors.next().map(str::to_string);
        (first.is_some() as usize + errors.count(), first)
    }

    /// Where the log is.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// SIGTERM, as an orchestrator stops it, and wait up to 20 s; then SIGKILL. Returns the
    /// exit code.
    pub async fn stop(mut self) -> Option<i32> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                let _ = self.child.kill().await;
                None
            }
        }
    }
}

/// The service's config: the test config (all four tools, alice and bob, API tokens) with the
/// webhook rate limits out of the way, moto as IAM, the default seal interval and the run's
/// roles. Listens on `127.0.0.1:0` until [`Service::start`] picks a port.
pub fn config(redis_url: &str, moto_url: &str, roles: &str) -> String {
    let limits = "rate_per_second = 1000000\nrate_burst = 1000000";
    let tail = format!(
        "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{moto_url}\"\nrole_path = \"/breakglass/\"\n\n\
         [elevation]\nmax_active_per_subject = 100000\nrequests_per_minute = 1000000\n\n\
         [audit]\nkey = \"{AUDIT_KEY}\"\n\n{roles}"
    );
    let text = config_toml(
        redis_url,
        &Extra {
            pagerduty: limits,
            grafana_incident: limits,
            tail: &tail,
            ..Extra::default()
        },
    );
    // The service's default Redis timeout (2 s), not the tests' 1 s.
    let timeout = "timeout = \"1s\"\n";
    assert!(text.contains(timeout), "the test config has no {timeout}");
    let mut text = text.replace(timeout, "");
    for section in ["[sources.opsgenie]\n", "[sources.grafana_oncall]\n"] {
        assert!(text.contains(section), "the test config has no {section}");
        text = text.replace(section, &format!("{section}{limits}\n"));
    }
    text
}
