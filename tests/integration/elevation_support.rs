//! A running app with its own Redis and its own moto, a role catalogue, and helpers to open an
//! incident and ask for elevations.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;
use crate::moto::Moto;

pub const INCIDENT: &str = "pagerduty:PFQZPSY";
pub const READ_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:Describe*"],"Resource":"*"}]}"#;

pub struct Elev {
    pub app: TestApp,
    pub moto: Moto,
}

/// Roles every elevation test has, plus `extra_roles` TOML and `elevation` settings.
pub fn catalogue(moto: &Moto, elevation: &str, extra_roles: &str) -> String {
    format!(
        r#"
[aws]
region = "us-east-1"
endpoint_url = "{url}"
role_path = "/breakglass/"

[elevation]
{elevation}

[[roles]]
name = "prod-db-read"
max_duration = "1h"
policy = '{READ_POLICY}'

[[roles]]
name = "prod-admin"
max_duration = "30m"
approval = "peer"
policy = '{READ_POLICY}'

[[roles]]
name = "opsgenie-only"
max_duration = "1h"
policy = '{READ_POLICY}'
[roles.when]
sources = ["opsgenie"]

[[roles]]
name = "broken"
max_duration = "1h"
policy = '{READ_POLICY}'
managed_policies = ["arn:aws:iam::123456789012:policy/does-not-exist"]
{extra_roles}
"#,
        url = moto.url()
    )
}

impl Elev {
    pub async fn start() -> Elev {
        Self::start_with("", "").await
    }

    pub async fn start_with(elevation: &str, extra_roles: &str) -> Elev {
        Self::start_with_revocation(elevation, extra_roles, "").await
    }

    /// As [`Elev::start_with`], with `revocation` as the body of a `[revocation]` table.
    pub async fn start_with_revocation(
        elevation: &str,
        extra_roles: &str,
        revocation: &str,
    ) -> Elev {
        let moto = Moto::start();
        let mut tail = catalogue(&moto, elevation, extra_roles);
        if !revocation.is_empty() {
            tail.push_str(&format!("\n[revocation]\n{revocation}\n"));
        }
        let app = TestApp::start_with(Extra {
            tail: &tail,
            ..Extra::default()
        })
        .await;
        Elev { app, moto }
    }

    /// The default catalogue on a given Redis reached at `url`, with `redis` settings added to
    /// the `[redis]` table.
    pub async fn start_on(redis: impl Into<Redis>, url: &str, redis_settings: &str) -> Elev {
        let moto = Moto::start();
        let tail = catalogue(&moto, "", "");
        let app = TestApp::start_on(
            redis,
            url,
            Extra {
                redis: redis_settings,
                tail: &tail,
                ..Extra::default()
            },
        )
        .await;
        Elev { app, moto }
    }

    /// Open pagerduty:PFQZPSY with alice assigned.
    pub async fn open_incident(&self) {
        let (status, _) = self
            .app
            .pagerduty(&fixture("pagerduty/incident.triggered.json"))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }

    /// Add bob as a responder of pagerduty:PFQZPSY.
    pub async fn add_bob(&self) {
        let body = edit(
            &fixture("pagerduty/incident.responder.added.json"),
            "Q3B15VLMF3ASBD",
            "PFQZPSY",
        );
        let body = edit(&body, "PXRUEF2", "PI9DT01");
        assert_eq!(self.app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
    }

    /// Reassign pagerduty:PFQZPSY to bob alone, dated after every event above (the
    /// responder.added fixture is from 2026-04-01): alice, only an assignee, stops responding.
    pub async fn reassign_to_bob(&self) {
        let body = edit(
            &fixture("pagerduty/incident.reassigned.json"),
            "PIQUG8X",
            "PFQZPSY",
        );
        let body = edit(
            &body,
            "2021-06-04T10:17:54.838Z",
            "2026-04-02T00:00:00.000Z",
        );
        assert_eq!(self.app.pagerduty(&body).await.0, StatusCode::ACCEPTED);
    }

    /// Resolve pagerduty:PFQZPSY (after the trigger).
    pub async fn resolve(&self) {
        assert_eq!(
            self.app.pagerduty(&resolve_body("PFQZPSY")).await.0,
            StatusCode::ACCEPTED
        );
    }

    pub async fn elevate(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .app
            .http
            .post(self.app.url("/v1/elevations"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("elevation request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn elevate_role(
        &self,
        token: &str,
        role: &str,
        duration: Value,
    ) -> (StatusCode, Value) {
        self.elevate(
            token,
            json!({"incident": INCIDENT, "role": role, "duration": duration, "reason": "replica lag on checkout"}),
        )
        .await
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> (StatusCode, Value) {
        let res = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("api request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Role names under /breakglass/ in IAM right now, over every page.
    pub async fn roles_in_iam(&self) -> Vec<String> {
        self.moto.roles_under("/breakglass/").await
    }

    /// Binding `id` as an admin reads it (`200` asserted).
    pub async fn binding(&self, id: &str) -> Value {
        let (status, read) = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/elevations/{id}"),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{read}");
        read
    }

    /// Wait until binding `id` reads `revoked`; returns it.
    pub async fn until_revoked(&self, id: &str, within: std::time::Duration) -> Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let read = self.binding(id).await;
            if read["status"] == "revoked" {
                return read;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not revoked in {within:?}: {read}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The app on the Redis at `url`, a Cluster or Sentinel set-up the test owns (the single
    /// Redis the harness hands every app stays empty), ready, with the incident open and alice
    /// holding prod-db-read; returns it with her binding's id.
    pub async fn start_elsewhere(url: &str, redis_settings: &str) -> (Elev, String) {
        let e = Elev::start_on(RedisServer::start(), url, redis_settings).await;
        let ready = e.app.http.get(e.app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        e.open_incident().await;
        let (status, b) = e
            .elevate_role(ALICE_TOKEN, "prod-db-read", serde_json::json!("30m"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        assert_eq!(e.roles_in_iam().await.len(), 1);
        assert!(e.app.redis.keys("bgtest").is_empty());
        let id = b["id"].as_str().expect("a binding id").to_string();
        (e, id)
    }

    /// Resolve the incident; then binding `id` is revoked for it, its role is gone from IAM,
    /// and the audit chain is sealed and intact.
    pub async fn resolve_revokes(&self, id: &str) {
        self.resolve().await;
        self.until_no_roles(std::time::Duration::from_secs(5)).await;
        let read = self
            .until_revoked(id, std::time::Duration::from_secs(5))
            .await;
        assert_eq!(read["end_reason"], "incident_resolved");
        let report = self.app.until_sealed().await;
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.unsealed(), 0, "{report:?}");
    }

    /// Wait until IAM holds no role under the path; returns how long it took.
    pub async fn until_no_roles(&self, within: std::time::Duration) -> std::time::Duration {
        let started = std::time::Instant::now();
        loop {
            let roles = self.roles_in_iam().await;
            if roles.is_empty() {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "roles still in IAM after {within:?}: {roles:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The trigger fixture as a new incident `native` with its own event id `event`.
pub fn new_trigger(native: &str, event: &str) -> Vec<u8> {
    let body = edit(
        &fixture("pagerduty/incident.triggered.json"),
        "PFQZPSY",
        native,
    );
    edit(&body, "01BZYIL05THJDFF2Y08X9SVMTU", event)
}

/// The resolve fixture moved onto `native`, an hour after its trigger.
pub fn resolve_body(native: &str) -> Vec<u8> {
    let body = edit(
        &fixture("pagerduty/incident.resolved.json"),
        "PCPZE64",
        native,
    );
    edit(
        &body,
        "2021-06-04T13:16:53.816Z",
        "2021-06-04T14:16:53.816Z",
    )
}
