//! Revocation that cannot be lost: several replicas of the service share one Redis and one IAM
//! (moto); an incident with 100+ bindings resolves, and every role goes, whether the replicas
//! all stay up, one of them is killed with SIGKILL mid-way, or Redis restarts mid-way (AOF on).
//! Each test ends with the invariant read back from IAM: no role under `/breakglass/` belongs to
//! a resolved incident or is past its `breakglass:expires-at`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breakglass::{App, Config, ShutdownHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::elevation_support::*;
use crate::harness::*;
use crate::moto::Moto;

const REPLICAS: usize = 3;
/// Elevation requests in flight at once, over all replicas.
const IN_FLIGHT: usize = 16;
const ROLE_PATH: &str = "/breakglass/";

/// `bulk-0` .. `bulk-{n-1}`, each a one-hour auto-approved role.
pub(crate) fn bulk_roles(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[roles]]\nname = \"bulk-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n"
            )
        })
        .collect()
}

/// The one config every replica runs (only `[server] listen` differs, and only through
/// `BREAKGLASS_LISTEN` or port 0): same Redis and prefix, same IAM and role path.
pub(crate) fn service_config(redis: &Redis, moto: &Moto, roles: usize, revocation: &str) -> String {
    replica_config(&redis.url(), "", moto, roles, revocation)
}

/// As [`service_config`], on the Redis at `redis_url` with `redis_settings` in `[redis]`.
pub(crate) fn replica_config(
    redis_url: &str,
    redis_settings: &str,
    moto: &Moto,
    roles: usize,
    revocation: &str,
) -> String {
    let mut tail = catalogue(
        moto,
        "max_active_per_subject = 1000\nrequests_per_minute = 100000",
        &bulk_roles(roles),
    );
    if !revocation.is_empty() {
        tail.push_str(&format!("\n[revocation]\n{revocation}\n"));
    }
    config_toml(
        redis_url,
        &Extra {
            redis: redis_settings,
            tail: &tail,
            ..Extra::default()
        },
    )
}

/// The replicas' base URLs and a client to reach them.
pub(crate) struct Replicas {
    pub(crate) urls: Vec<String>,
    pub(crate) http: reqwest::Client,
}

impl Replicas {
    fn new(urls: Vec<String>) -> Replicas {
        Replicas {
            urls,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub(crate) async fn pagerduty(&self, replica: usize, body: &[u8]) -> StatusCode {
        self.pagerduty_answer(replica, body).await.0
    }

    /// A signed PagerDuty webhook through `replica`: the status and the JSON answer.
    pub(crate) async fn pagerduty_answer(
        &self,
        replica: usize,
        body: &[u8],
    ) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}/webhooks/pagerduty", self.urls[replica]))
            .header("content-type", "application/json")
            .header("x-pagerduty-signature", pd_signature(PD_SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .expect("webhook request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// GET the incident as the admin through `replica`: the status and the JSON answer, or
    /// `None` if the request did not get through at all.
    pub(crate) async fn incident(&self, replica: usize, id: &str) -> Option<(StatusCode, Value)> {
        let res = self
            .http
            .get(format!("{}/v1/incidents/{id}", self.urls[replica]))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .ok()?;
        let status = res.status();
        Some((status, res.json().await.unwrap_or(Value::Null)))
    }

    /// Alice elevates `bulk-0` .. `bulk-{n-1}` on [`INCIDENT`], request `i` through replica
    /// `i % replicas`, [`IN_FLIGHT`] at a time. Every one must be granted (201). A 503 is
    /// retried, at most twice, as the API asks of clients: with `appendfsync always` on a busy
    /// disk one Redis write can outlast the store's 2 s timeout, and the service then fails
    /// closed. A retry returns the same binding, so nothing is granted twice.
    async fn elevate_all(&self, n: usize) {
        let started = Instant::now();
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut tasks = JoinSet::new();
        for i in 0..n {
            let request = self
                .http
                .post(format!("{}/v1/elevations", self.urls[i % self.urls.len()]))
                .bearer_auth(ALICE_TOKEN)
                .json(&json!({"incident": INCIDENT, "role": format!("bulk-{i}"),
                    "duration": "1h", "reason": "checkout is down"}));
            let permits = permits.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let mut retried = 0;
                loop {
                    let res = request
                        .try_clone()
                        .expect("a JSON request clones")
                        .send()
                        .await
                        .expect("elevation request");
                    let status = res.status();
                    if status == StatusCode::SERVICE_UNAVAILABLE && retried < 2 {
                        retried += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    break (i, status, res.text().await.unwrap_or_default(), retried);
                }
            });
        }
        let mut retries = 0;
        while let Some(done) = tasks.join_next().await {
            let (i, status, body, retried) = done.unwrap();
            assert_eq!(status, StatusCode::CREATED, "bulk-{i}: {body}");
            retries += retried;
        }
        eprintln!(
            "{n} elevations granted in {:?} ({retries} retried after a 503)",
            started.elapsed()
        );
    }

    /// Wait until the incident lists `expected` bindings, every one `revoked`. Requests that
    /// fail meanwhile (a replica down, Redis restarting: 503) are retried.
    async fn until_all_revoked(&self, replica: usize, expected: usize, within: Duration) {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            if let Some((StatusCode::OK, view)) = self.incident(replica, INCIDENT).await {
                let bindings = view["bindings"].as_array().cloned().unwrap_or_default();
                let not_revoked: Vec<&Value> = bindings
                    .iter()
                    .filter(|b| b["status"] != "revoked")
                    .collect();
                if bindings.len() == expected && not_revoked.is_empty() {
                    return;
                }
                last = format!(
                    "{} bindings, {} not revoked, e.g. {:?}",
                    bindings.len(),
                    not_revoked.len(),
                    not_revoked.first()
                );
            }
            assert!(
                started.elapsed() < within,
                "bindings not all revoked after {within:?}: {last}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Wait until IAM holds no role under [`ROLE_PATH`]; returns how long it took.
pub(crate) async fn until_no_roles(moto: &Moto, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let roles = moto.roles_under(ROLE_PATH).await;
        if roles.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{} roles still in IAM after {within:?}, e.g. {:?}",
            roles.len(),
            &roles[..roles.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until revocation is under way: fewer than `total` roles are left (some are gone, the
/// rest queued or in flight). Returns how many are left.
async fn until_revoking(moto: &Moto, total: usize) -> usize {
    let started = Instant::now();
    loop {
        let left = moto.roles_under(ROLE_PATH).await.len();
        if left < total {
            return left;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no role was revoked within 20s of the resolve"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The invariant: every role left under the path has a readable expiry that is still ahead, and
/// belongs to an incident breakglass knows and that is not resolved.
pub(crate) async fn assert_no_role_outlives_its_incident_or_expiry(
    moto: &Moto,
    replicas: &Replicas,
) {
    for (role, incident) in moto.roles_left_by_incident().await {
        let (status, body) = replicas
            .incident(0, &incident)
            .await
            .unwrap_or_else(|| panic!("{role}: GET incident {incident} did not get through"));
        assert_eq!(
            status,
            StatusCode::OK,
            "{role}: unknown incident {incident}: {body}"
        );
        assert_ne!(body["status"], "resolved", "{role}: incident resolved");
    }
}

/// In-process replicas, each an [`App`] built from the same config text. Stopped on drop.
pub(crate) struct InProcess {
    pub(crate) replicas: Replicas,
    stops: Vec<ShutdownHandle>,
}

impl InProcess {
    pub(crate) async fn start(config: &str, n: usize) -> InProcess {
        let mut urls = Vec::new();
        let mut stops = Vec::new();
        for _ in 0..n {
            let app = App::build(Config::from_toml_str(config).expect("test config"))
                .await
                .expect("replica starts");
            urls.push(format!("http://{}", app.addr()));
            stops.push(app.shutdown_handle());
            tokio::spawn(app.wait());
        }
        InProcess {
            replicas: Replicas::new(urls),
            stops,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        for stop in &self.stops {
            stop.shutdown();
        }
    }
}

/// The real binary, one process per replica, each on its own port, logging to its own file.
/// Every process still running is killed on drop (a failed assertion included).
struct Processes {
    children: Vec<Option<Child>>,
    logs: Vec<tempfile::NamedTempFile>,
    replicas: Replicas,
}

impl Processes {
    async fn start(config: &Path, n: usize) -> Processes {
        let mut children = Vec::new();
        let mut logs = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..n {
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("a log file");
            let child = Command::new(env!("CARGO_BIN_EXE_breakglass"))
                .args(["serve", "--config"])
                .arg(config)
                .env("BREAKGLASS_LISTEN", format!("127.0.0.1:{port}"))
                .env("BREAKGLASS_LOG", "info")
                .env_remove("BREAKGLASS_REDIS_URL")
                .env_remove("BREAKGLASS_REDIS_PREFIX")
                .env_remove("BREAKGLASS_AWS_ENDPOINT_URL")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().expect("log file"))
                .spawn()
                .expect("start the breakglass binary");
            children.push(Some(child));
            logs.push(log);
            urls.push(format!("http://127.0.0.1:{port}"));
        }
        let processes = Processes {
            children,
            logs,
            replicas: Replicas::new(urls),
        };
        for (i, url) in processes.replicas.urls.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(20);
            while processes
                .replicas
                .http
                .get(format!("{url}/healthz"))
                .send()
                .await
                .is_err()
            {
                assert!(
                    Instant::now() < deadline,
                    "replica {i} did not come up:\n{}",
                    processes.log(i)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        processes
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.logs[i].path()).unwrap_or_default()
    }

    /// SIGKILL replica `i`, as the OOM killer or a lost node would: nothing drains.
    fn kill(&mut self, i: usize) {
        let mut child = self.children[i].take().expect("replica still running");
        let killed = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .expect("kill -KILL");
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "replica {i} exited {status} after SIGKILL"
        );
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..self.logs.len() {
                let log = self.log(i);
                let lines: Vec<&str> = log.lines().collect();
                eprintln!(
                    "--- replica {i}, last lines of its log:\n{}",
                    lines[lines.len().saturating_sub(20)..].join("\n")
                );
            }
        }
        for mut child in self.children.iter_mut().filter_map(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_with_200_bindings_spread_over_3_replicas_revokes_every_role() {
    const BINDINGS: usize = 200;
    let redis = Redis::start();
    let moto = Moto::start();
    let config = service_config(&redis, &moto, BINDINGS, "");
    let cluster = InProcess::start(&config, REPLICAS).await;
    let r = &cluster.replicas;
    assert_eq!(
        r.pagerduty(0, &fixture("pagerduty/incident.triggered.json"))
            .await,
        StatusCode::ACCEPTED
    );

    r.elevate_all(BINDINGS).await;
    assert_eq!(moto.roles_under(ROLE_PATH).await.len(), BINDINGS);

    let resolved = Instant::now();
    assert_eq!(
        r.pagerduty(1, &resolve_body("PFQZPSY")).await,
        StatusCode::ACCEPTED
    );
    let took = until_no_roles(&moto, Duration::from_secs(60)).await;
    eprintln!("{BINDINGS} roles gone {took:?} after the resolve");
    r.until_all_revoked(
        2,
        BINDINGS,
        Duration::from_secs(60).saturating_sub(resolved.elapsed()),
    )
    .await;
    assert_no_role_outlives_its_incident_or_expiry(&moto, r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_with_sigkill_mid_revocation_loses_nothing() {
    const BINDINGS: usize = 120;
    const LEASE: Duration = Duration::from_secs(2);
    let redis = Redis::start();
    let moto = Moto::start();
    // A small bound per replica, so that the revocations take long enough to be cut short.
    let config = service_config(&redis, &moto, BINDINGS, "lease = \"2s\"\nconcurrency = 8");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &config).unwrap();
    let mut cluster = Processes::start(file.path(), REPLICAS).await;
    assert_eq!(
        cluster
            .replicas
            .pagerduty(0, &fixture("pagerduty/incident.triggered.json"))
            .await,
        StatusCode::ACCEPTED
    );
    cluster.replicas.elevate_all(BINDINGS).await;
    assert_eq!(moto.roles_under(ROLE_PATH).await.len(), BINDINGS);

    assert_eq!(
        cluster
            .replicas
            .pagerduty(1, &resolve_body("PFQZPSY"))
            .await,
        StatusCode::ACCEPTED
    );
    // Kill as soon as the first roles are gone: the rest are queued or in flight, some of
    // them leased to the replica killed.
    until_revoking(&moto, BINDINGS).await;
    cluster.kill(0);
    let killed = Instant::now();
    let left = moto.roles_under(ROLE_PATH).await.len();
    eprintln!("replica 0 killed with {left} of {BINDINGS} roles still in IAM");
    assert!(
        left > 0,
        "every role was gone before the kill: the test no longer kills mid-revocation"
    );

    until_no_roles(&moto, LEASE + Duration::from_secs(30)).await;
    eprintln!("the last role gone {:?} after the kill", killed.elapsed());
    cluster
        .replicas
        .until_all_revoked(1, BINDINGS, LEASE + Duration::from_secs(30))
        .await;
    // Replica 0 is gone: the invariant is read through the survivors.
    let survivors = Replicas::new(cluster.replicas.urls[1..].to_vec());
    assert_no_role_outlives_its_incident_or_expiry(&moto, &survivors).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_revocation_loses_nothing() {
    const BINDINGS: usize = 100;
    let mut redis = Redis::start();
    let moto = Moto::start();
    // A short lease: an entry whose worker lost Redis half-way comes due again soon.
    let config = service_config(&redis, &moto, BINDINGS, "lease = \"2s\"\nconcurrency = 8");
    let cluster = InProcess::start(&config, REPLICAS).await;
    let r = &cluster.replicas;
    assert_eq!(
        r.pagerduty(0, &fixture("pagerduty/incident.triggered.json"))
            .await,
        StatusCode::ACCEPTED
    );
    r.elevate_all(BINDINGS).await;
    assert_eq!(moto.roles_under(ROLE_PATH).await.len(), BINDINGS);

    assert_eq!(
        r.pagerduty(1, &resolve_body("PFQZPSY")).await,
        StatusCode::ACCEPTED
    );
    until_revoking(&moto, BINDINGS).await;
    redis.restart();
    let left = moto.roles_under(ROLE_PATH).await.len();
    let restarted = Instant::now();
    eprintln!("redis restarted with {left} of {BINDINGS} roles still in IAM");
    assert!(
        left > 0,
        "every role was gone before the restart: the test no longer restarts mid-revocation"
    );

    until_no_roles(&moto, Duration::from_secs(40)).await;
    eprintln!(
        "the last role gone {:?} after the restart",
        restarted.elapsed()
    );
    r.until_all_revoked(2, BINDINGS, Duration::from_secs(40))
        .await;
    assert_no_role_outlives_its_incident_or_expiry(&moto, r).await;
}
