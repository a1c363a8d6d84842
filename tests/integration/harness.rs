//! Test harness: real `redis-server` processes on free ports, and the real app built from a
//! config exactly as `main` builds it, driven over HTTP.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use breakglass::{App, Config, ShutdownHandle};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

// Declared here with their paths, so that the benches, which include this file by path, get
// them too.
#[path = "cluster_set.rs"]
mod cluster_set;
#[path = "redis_mode.rs"]
mod redis_mode;
#[path = "sentinel_set.rs"]
mod sentinel_set;

#[allow(unused_imports)] // the benches use none of them
pub use cluster_set::{cluster_url, redis_cli, stdout_of, RedisCluster};
pub use redis_mode::Redis;
#[allow(unused_imports)]
pub use sentinel_set::RedisSentinel;

/// Secrets and tokens of the test config.
pub const PD_SECRET: &str = "pd-secret-current";
pub const PD_SECRET_OLD: &str = "pd-secret-previous";
pub const GI_SECRET: &str = "gi-secret";
pub const OPSGENIE_TOKEN: &str = "og-token";
pub const ONCALL_TOKEN: &str = "oncall-token";
pub const ALICE_TOKEN: &str = "alice-api-token";
pub const BOB_TOKEN: &str = "bob-api-token";
pub const ADMIN_TOKEN: &str = "admin-api-token";
/// The audit seal key of the test config.
pub const AUDIT_KEY: &str = "test-audit-key-0123456789abcdef0123456789abcdef";

pub fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// How many free ports a server is tried on before the harness gives up (see [`Emulator::start`]).
const PORT_ATTEMPTS: usize = 5;

/// After the server `child` answered on `port`: whether it is still running and the answer was
/// its own (the port was not taken by another process between being picked and being bound).
fn serving_its_port(child: &mut Child, port: u16) -> bool {
    matches!(child.try_wait(), Ok(None)) && listener_owned_by(child.id(), port)
}

/// Whether the socket listening on 127.0.0.1:`port` (or any address) belongs to process `pid`:
/// its inode in /proc/net/tcp is one of the process's open file descriptors.
fn listener_owned_by(pid: u32, port: u16) -> bool {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let inodes: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let listening = fields.get(3) == Some(&"0A");
            (listening && u16::from_str_radix(local_port, 16).ok() == Some(port))
                .then(|| format!("socket:[{}]", fields.get(9).unwrap_or(&"")))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == inode.as_str())
        })
}

/// A local emulator process (moto, ministack) on a free port: started, waited for until it
/// answers HTTP at `health`, killed on drop. Its output goes to a log that failures show.
pub struct Emulator {
    child: Child,
    pub port: u16,
    log: tempfile::NamedTempFile,
}

impl Emulator {
    /// Start the command `command(port)` makes (its stdio is set here) on a free port. `name`
    /// and `install` make the failure messages say what did not start and how to install it.
    ///
    /// A free port is free only when it is picked: another test's server may take it before
    /// this one (a Python emulator takes a second to start) binds it. Then the emulator exits
    /// with "Address already in use", or, worse, the other server answers the health check.
    /// So it counts as started only once the listening socket on its port is its own, and a
    /// lost port is retried on another.
    pub fn start(
        command: impl Fn(u16) -> Command,
        health: &str,
        name: &str,
        install: &str,
    ) -> Emulator {
        let ports = std::iter::repeat_with(free_port).take(PORT_ATTEMPTS);
        Emulator::start_on(ports, command, health, name, install)
    }

    /// As [`Emulator::start`], trying each of `ports` in turn until the emulator holds one.
    pub fn start_on(
        ports: impl IntoIterator<Item = u16>,
        command: impl Fn(u16) -> Command,
        health: &str,
        name: &str,
        install: &str,
    ) -> Emulator {
        let mut tried = Vec::new();
        for port in ports {
            tried.push(port);
            let log = tempfile::NamedTempFile::new().expect("a temp file for the emulator's log");
            let child = command(port)
                .stdin(Stdio::null())
                .stdout(log.reopen().expect("emulator log file"))
                .stderr(log.reopen().expect("emulator log file"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name} ({e}). {install}"));
            let mut emulator = Emulator { child, port, log };
            let deadline = Instant::now() + Duration::from_secs(30);
            // Leaves the loop only when the port turns out to be another process's.
            loop {
                if let Ok(Some(status)) = emulator.child.try_wait() {
                    let tail = emulator.log_tail();
                    if tail.to_ascii_lowercase().contains("address already in use") {
                        break;
                    }
                    panic!("{name} exited at start ({status}): {tail}\n{install}");
                }
                if emulator.answers_http(health) {
                    if listener_owned_by(emulator.child.id(), port) {
                        return emulator;
                    }
                    // Someone else's server answered on the port; ours cannot bind it.
                    break;
                }
                if Instant::now() > deadline {
                    panic!(
                        "{name} on port {port} did not answer HTTP within 30s: {}\n{install}",
                        emulator.log_tail()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("{name}: port {port} was taken by another process; trying another");
        }
        panic!("{name}: every port tried ({tried:?}) was taken by another process");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn answers_http(&self, path: &str) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut head = [0u8; 12];
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_exact(&mut head).is_ok()
            && head.starts_with(b"HTTP/1.")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ACL user and password of a TLS test Redis ([`RedisServer::start_tls`]).
pub const REDIS_USER: &str = "breakglass";
pub const REDIS_PASSWORD: &str = "s3cret-pass";

/// A real redis-server on a free port, with its own data directory. Killed on drop. Tests get
/// one through [`Redis`], which is this server or a Cluster or Sentinel set-up by the
/// `BREAKGLASS_TEST_REDIS` setting.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// The CA that signed the server's certificate when the server speaks only TLS.
    tls_ca: Option<PathBuf>,
    /// Whether the TLS server asks every client for a certificate signed by its CA.
    mtls: bool,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("a temp dir for redis");
        let mut redis = RedisServer {
            child: None,
            port: free_port(),
            dir,
            tls_ca: None,
            mtls: false,
        };
        redis.spawn_on_a_free_port();
        redis
    }

    /// A redis-server that speaks only TLS (no plain port at all), with a throwaway CA and a
    /// certificate for 127.0.0.1, and one ACL user ([`REDIS_USER`], [`REDIS_PASSWORD`]): the
    /// default user is off.
    pub fn start_tls() -> RedisServer {
        Self::start_tls_with(false)
    }

    /// As [`RedisServer::start_tls`], and clients must present a certificate signed by the test CA
    /// ([`RedisServer::tls_client_files`]).
    pub fn start_mtls() -> RedisServer {
        Self::start_tls_with(true)
    }

    fn start_tls_with(mtls: bool) -> RedisServer {
        let dir = tempfile::tempdir().expect("a temp dir for redis");
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).expect("tls dir");
        make_test_certificates(&tls);
        let mut redis = RedisServer {
            child: None,
            port: free_port(),
            dir,
            tls_ca: Some(tls.join("ca.pem")),
            mtls,
        };
        redis.spawn_on_a_free_port();
        redis
    }

    /// The CA bundle to trust for a TLS server.
    pub fn tls_ca_file(&self) -> Option<&std::path::Path> {
        self.tls_ca.as_deref()
    }

    /// A client certificate and its key, signed by the test CA (TLS servers only).
    pub fn tls_client_files(&self) -> (PathBuf, PathBuf) {
        let tls = self.tls_ca.as_ref().expect("a TLS redis").parent().unwrap();
        (tls.join("client.pem"), tls.join("client.key"))
    }

    /// Start the server on a free port. A free port is free only when it is picked (see
    /// [`Emulator::start`]): when another process has taken it by the time redis-server binds
    /// it, another port is tried.
    fn spawn_on_a_free_port(&mut self) {
        for _ in 0..PORT_ATTEMPTS {
            if self.spawn() {
                return;
            }
            eprintln!(
                "redis-server: port {} was taken by another process; trying another",
                self.port
            );
            self.port = free_port();
        }
        panic!("redis-server: every free port tried was taken by another process");
    }

    /// Start the server on its port and data directory; false when the port is another
    /// process's (redis-server exited, or someone else's server answers there).
    fn spawn(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        match &self.tls_ca {
            None => {
                command.args(["--port", &self.port.to_string()]);
            }
            Some(ca) => {
                let tls = ca.parent().expect("tls dir");
                command
                    .args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(tls.join("server.pem"))
                    .arg("--tls-key-file")
                    .arg(tls.join("server.key"))
                    .arg("--tls-ca-cert-file")
                    .arg(ca)
                    .args(["--tls-auth-clients", if self.mtls { "yes" } else { "no" }])
                    .args(["--user", "default", "off"])
                    .args(["--user", REDIS_USER, "on"])
                    .arg(format!(">{REDIS_PASSWORD}"))
                    .args(["~*", "&*", "+@all"]);
            }
        }
        let child = command
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}). The integration tests need a real Redis: \
                     install it (apt-get install redis-server) or run ./scripts/test, which does"
                )
            });
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            if exited {
                self.child = None;
                return false;
            }
            if self.ping() {
                if listener_owned_by(pid, self.port) {
                    return true;
                }
                // Another test's server answered on the port; this one cannot bind it.
                self.stop();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10s",
            self.port
        );
    }

    /// The URL the app is given: `rediss://` with the ACL user's credentials for a TLS server.
    pub fn url(&self) -> String {
        match self.tls_ca {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!(
                "rediss://{REDIS_USER}:{REDIS_PASSWORD}@127.0.0.1:{}",
                self.port
            ),
        }
    }

    /// A client for the test's own reads, trusting the test CA of a TLS server.
    fn client(&self) -> redis::RedisResult<redis::Client> {
        match &self.tls_ca {
            None => redis::Client::open(self.url()),
            Some(ca) => {
                breakglass::store::install_crypto_provider();
                redis::Client::build_with_tls(
                    self.url(),
                    redis::TlsCertificates {
                        client_tls: self.mtls.then(|| {
                            let (cert, key) = self.tls_client_files();
                            redis::ClientTlsConfig {
                                client_cert: std::fs::read(cert).expect("client cert"),
                                client_key: std::fs::read(key).expect("client key"),
                            }
                        }),
                        root_cert: Some(std::fs::read(ca).expect("test CA")),
                    },
                )
            }
        }
    }

    fn ping(&self) -> bool {
        self.client()
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// A synchronous connection for assertions on raw keys.
    pub fn conn(&self) -> redis::Connection {
        self.client()
            .and_then(|c| c.get_connection())
            .expect("connect to test redis")
    }

    /// Every key matching `pattern`.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut self.conn())
            .expect("KEYS")
    }

    /// Kill the server (as a crash would); its data stays on disk.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "redis-server could not listen on port {} again: another process took it",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Write a throwaway CA (`ca.pem`) and a server certificate for IP 127.0.0.1 signed by it
/// (`server.pem`, `server.key`), and a client certificate (`client.pem`, `client.key`) into
/// `dir`, with the openssl command line tool.
fn make_test_certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run openssl ({e}); the TLS tests need the openssl command")
            });
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-new",
        "-days",
        "2",
        "-subj",
        "/CN=breakglass test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&ca);
    // A key and a certificate signed by the CA: `<name>.key`, `<name>.pem`.
    let signed = |name: &str, subject: &str, extensions: &str| {
        let (key, csr, ext, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.pem"),
        );
        let mut request = vec!["req", "-new", "-subj", subject];
        request.extend(ec);
        request.extend(["-keyout", &key, "-out", &csr]);
        openssl(&request);
        std::fs::write(dir.join(&ext), extensions).expect("extensions file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
    };
    signed(
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    );
    signed(
        "client",
        "/CN=breakglass",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
}

/// Additions to the test config, each placed in its section.
#[derive(Default)]
pub struct Extra<'a> {
    pub server: &'a str,
    pub pagerduty: &'a str,
    pub grafana_incident: &'a str,
    /// Added to `[redis]`.
    pub redis: &'a str,
    /// Appended at the end (new tables).
    pub tail: &'a str,
    /// `[[responders]]` instead of [`RESPONDERS_TOML`].
    pub responders: Option<&'a str>,
}

/// Where IAM is for tests that bring no moto: a closed local port. Every app runs the reconciler,
/// which lists and deletes roles; without this it would reach whatever AWS account the
/// developer's environment names.
const NO_IAM: &str = "\n[aws]\nendpoint_url = \"http://127.0.0.1:9\"\n";

/// alice (on every tool) and bob (PagerDuty and Opsgenie), as `[[responders]]`: who the fixtures'
/// users are.
pub const RESPONDERS_TOML: &str = r#"[[responders]]
email = "alice@example.com"
aws_principal = "arn:aws:iam::123456789012:user/alice"
pagerduty = "PJ0LVEB"
opsgenie = "kenaz@puppet.com"
grafana_oncall = "admin"
grafana_incident = "grafana-incident:user-637c92ccd784a2ee"

[[responders]]
email = "bob@example.com"
aws_principal = "arn:aws:iam::123456789012:user/bob"
pagerduty = "PI9DT01"
opsgenie = "user2@ifountain.com"
"#;

/// The test config: every source enabled, two responders, three API tokens.
pub fn config_toml(redis_url: &str, extra: &Extra) -> String {
    let hash = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
    let aws = if extra.tail.contains("[aws]") {
        ""
    } else {
        NO_IAM
    };
    // Sealed quickly, so that tests see their events chained within moments.
    let audit = if extra.tail.contains("[audit]") {
        String::new()
    } else {
        format!("\n[audit]\nkey = \"{AUDIT_KEY}\"\nseal_interval = \"20ms\"\n")
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
{server}

[redis]
url = "{redis_url}"
prefix = "bgtest"
timeout = "1s"
{redis}

[sources.pagerduty]
secrets = ["{PD_SECRET}", "{PD_SECRET_OLD}"]
{pagerduty}
[sources.grafana_incident]
secrets = ["{GI_SECRET}"]
{grafana_incident}
[sources.opsgenie]
tokens = ["{OPSGENIE_TOKEN}"]
[sources.grafana_oncall]
tokens = ["{ONCALL_TOKEN}"]

[[auth.tokens]]
sha256 = "{alice}"
subject = "alice@example.com"
[[auth.tokens]]
sha256 = "{bob}"
subject = "bob@example.com"
[[auth.tokens]]
sha256 = "{admin}"
subject = "ops"
admin = true

{responders}{tail}
{aws}
{audit}
"#,
        server = extra.server,
        pagerduty = extra.pagerduty,
        grafana_incident = extra.grafana_incident,
        redis = extra.redis,
        tail = extra.tail,
        responders = extra.responders.unwrap_or(RESPONDERS_TOML),
        alice = hash(ALICE_TOKEN),
        bob = hash(BOB_TOKEN),
        admin = hash(ADMIN_TOKEN),
    )
}

/// A running app with its own Redis.
pub struct TestApp {
    pub addr: SocketAddr,
    pub redis: Redis,
    pub http: reqwest::Client,
    /// The config the app runs with.
    pub config: Config,
    /// The config file's text, for the binary's operator commands.
    pub config_text: String,
    shutdown: ShutdownHandle,
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(Extra::default()).await
    }

    /// Start with extra settings under `[server]`.
    pub async fn start_with_server(server: &str) -> TestApp {
        Self::start_with(Extra {
            server,
            ..Extra::default()
        })
        .await
    }

    /// Start with extra settings under `[sources.pagerduty]`.
    pub async fn start_with_source_limits(pagerduty: &str) -> TestApp {
        Self::start_with(Extra {
            pagerduty,
            ..Extra::default()
        })
        .await
    }

    /// Start with additions to the test config.
    pub async fn start_with(extra: Extra<'_>) -> TestApp {
        let redis = Redis::start();
        let url = redis.url();
        Self::start_on(redis, &url, extra).await
    }

    /// Start on a given Redis, reached at `url` (which may be wrong on purpose).
    pub async fn start_on(redis: impl Into<Redis>, url: &str, extra: Extra<'_>) -> TestApp {
        let redis = redis.into();
        let config_text = config_toml(url, &extra);
        let config = Config::from_toml_str(&config_text).expect("test config");
        let app = App::build(config.clone()).await.expect("app starts");
        let addr = app.addr();
        let shutdown = app.shutdown_handle();
        tokio::spawn(app.wait());
        TestApp {
            addr,
            redis,
            http: reqwest::Client::new(),
            config,
            config_text,
            shutdown,
        }
    }

    /// Run the real binary's operator command `args` against this app's Redis, with the app's
    /// config in a file (`--config` is added); returns its exit code and output.
    pub async fn operator(&self, args: &[&str]) -> (Option<i32>, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("breakglass.toml");
        std::fs::write(&config, &self.config_text).expect("write config");
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_breakglass"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .await
            .expect("run breakglass");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains(AUDIT_KEY),
            "the audit key was printed: {text}"
        );
        (out.status.code(), text)
    }

    /// The admins' NDJSON export of the whole audit trail, one value per line.
    pub async fn audit_export(&self) -> Vec<serde_json::Value> {
        let res = self
            .http
            .get(self.url("/v1/audit"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET /v1/audit");
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.expect("export body");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// A metric from `/metrics`, summed over its labels.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// A store on the app's Redis, for the library's own readers (verify, sealer).
    pub fn store(&self) -> breakglass::store::Store {
        breakglass::store::Store::connect(&self.config.redis, Default::default()).expect("store")
    }

    /// Wait until every audit event is sealed; returns the verify report then.
    pub async fn until_sealed(&self) -> breakglass::audit::verify::Report {
        let store = self.store();
        let started = Instant::now();
        loop {
            let report = breakglass::audit::verify::verify(
                &store,
                Some(&breakglass::secret::Secret::new(AUDIT_KEY)),
            )
            .await
            .expect("verify");
            if report.unsealed() == 0 || !report.is_intact() {
                return report;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "events still unsealed: {report:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POST a webhook body with the given headers; returns the status and the JSON answer.
    pub async fn webhook(
        &self,
        source: &str,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> (StatusCode, serde_json::Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/webhooks/{source}")))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let res = req.send().await.expect("webhook request");
        let status = res.status();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn pagerduty(&self, body: &[u8]) -> (StatusCode, serde_json::Value) {
        self.webhook(
            "pagerduty",
            body,
            &[("x-pagerduty-signature", pd_signature(PD_SECRET, body))],
        )
        .await
    }

    pub async fn grafana_incident(&self, body: &[u8]) -> (StatusCode, serde_json::Value) {
        let t = chrono::Utc::now().timestamp();
        self.webhook(
            "grafana-incident",
            body,
            &[("gi-signature", gi_signature(GI_SECRET, body, t))],
        )
        .await
    }

    pub async fn opsgenie(&self, body: &[u8]) -> (StatusCode, serde_json::Value) {
        self.webhook(
            "opsgenie",
            body,
            &[("authorization", format!("Bearer {OPSGENIE_TOKEN}"))],
        )
        .await
    }

    pub async fn grafana_oncall(&self, body: &[u8]) -> (StatusCode, serde_json::Value) {
        self.webhook(
            "grafana-oncall",
            body,
            &[("x-breakglass-token", ONCALL_TOKEN.to_string())],
        )
        .await
    }

    /// GET an API path with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("api request");
        let status = res.status();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The incident as the admin sees it (panics unless 200).
    pub async fn incident(&self, id: &str) -> serde_json::Value {
        let (status, body) = self.get(&format!("/v1/incidents/{id}"), ADMIN_TOKEN).await;
        assert_eq!(status, StatusCode::OK, "GET incident {id}: {body}");
        body
    }

    /// Emails (or tool ids) of the incident's responders, sorted.
    pub async fn responders(&self, id: &str) -> Vec<String> {
        let incident = self.incident(id).await;
        let mut out: Vec<String> = incident["responders"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        r["email"]
                            .as_str()
                            .or(r["tool_id"].as_str())
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Every entry of every shard's audit stream, as (type, incident, binding).
    pub fn audit_entries(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for k in self
            .redis
            .keys("bgtest")
            .iter()
            .filter(|k| k.ends_with(":audit"))
        {
            let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(k)
                .arg("-")
                .arg("+")
                .query(&mut self.redis.conn())
                .expect("XRANGE");
            for e in entries.ids {
                let f = |name: &str| e.get::<String>(name).unwrap_or_default();
                out.push((f("type"), f("incident"), f("binding")));
            }
        }
        out
    }

    /// How many `webhook.applied` events the audit trail holds: one per applied webhook.
    pub fn webhooks_applied(&self) -> usize {
        self.audit_entries()
            .iter()
            .filter(|(t, _, _)| t == "webhook.applied")
            .count()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

pub fn pd_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn gi_signature(secret: &str, body: &[u8], t: i64) -> String {
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(format!("{digest}:{t}:v1").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Replace every `from` with `to` in a JSON body (to make variants of a real payload, such as
/// the same event for another incident id or at another time).
pub fn edit(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).expect("utf-8 fixture");
    assert!(text.contains(from), "fixture does not contain {from:?}");
    text.replace(from, to).into_bytes()
}

/// A port another Redis holds is not mistaken for this one's, though it answers PING; the next
/// free port is used.
#[test]
fn a_redis_server_never_takes_another_servers_port_for_its_own() {
    let other = RedisServer::start();
    let mut ours = RedisServer {
        child: None,
        port: other.port,
        dir: tempfile::tempdir().expect("a temp dir for redis"),
        tls_ca: None,
        mtls: false,
    };
    ours.spawn_on_a_free_port();
    assert_ne!(ours.port, other.port);
    redis::cmd("SET")
        .arg("only-on-ours")
        .arg("1")
        .query::<()>(&mut ours.conn())
        .expect("SET on the new redis");
    assert_eq!(ours.keys("*"), vec!["only-on-ours"]);
    assert!(other.keys("*").is_empty());
}
