//! The responder CLI as responders run it: the real binary against a running app with its own
//! Redis and moto. The binary runs as a child process awaited on the test's runtime, so the
//! in-process server keeps serving while it waits.

use crate::elevation_support::*;
use crate::harness::*;

/// What one run of `breakglass` did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "stderr: {}", self.stderr);
        assert!(self.stderr.is_empty(), "stderr: {}", self.stderr);
        &self.stdout
    }

    /// The single `breakglass: ...` line of a failed run.
    fn failure(&self) -> &str {
        assert_eq!(self.code, Some(1), "stdout: {}", self.stdout);
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", self.stderr);
        assert!(lines[0].starts_with("breakglass: "), "{}", self.stderr);
        lines[0]
    }

    /// The value of a `  key  value` line of a binding summary.
    fn field(&self, key: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no `{key}` in: {}", self.stdout))
    }
}

/// Run the binary with `token` in BREAKGLASS_TOKEN (or none) against `server`.
async fn breakglass(server: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_breakglass"));
    cmd.args(args)
        .env("BREAKGLASS_URL", server)
        .env_remove("BREAKGLASS_TOKEN");
    if let Some(token) = token {
        cmd.env("BREAKGLASS_TOKEN", token);
    }
    let out = cmd.output().await.expect("run the breakglass binary");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if let Some(token) = token {
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains(token), "the token was printed: {all}");
    }
    run
}

fn server(e: &Elev) -> String {
    e.app.url("")
}

async fn elevate(e: &Elev, token: &str, role: &str, duration: &str) -> Run {
    breakglass(
        &server(e),
        Some(token),
        &[
            "elevate",
            "--incident",
            INCIDENT,
            "--role",
            role,
            "--duration",
            duration,
            "--reason",
            "replica lag on checkout",
        ],
    )
    .await
}

#[tokio::test]
async fn elevate_prints_the_assume_role_command_and_a_retry_returns_the_same_binding() {
    let e = Elev::start().await;
    e.open_incident().await;
    let run = elevate(&e, ALICE_TOKEN, "prod-db-read", "30m").await;
    let out = run.ok();
    assert!(
        out.starts_with("Granted prod-db-read on pagerduty:PFQZPSY to alice@example.com."),
        "{out}"
    );
    let id = run.field("binding");
    assert_eq!(run.field("status"), "active");
    let arn = run.field("role ARN");
    assert!(
        arn.ends_with(&format!(":role/breakglass/breakglass-{id}")),
        "{out}"
    );
    let expires = run.field("expires");
    assert!(
        expires.ends_with("Z (in 29m)") || expires.ends_with("Z (in 30m)"),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("aws sts assume-role --role-arn {arn} ")),
        "{out}"
    );
    assert_eq!(e.roles_in_iam().await, vec![format!("breakglass-{id}")]);

    let again = elevate(&e, ALICE_TOKEN, "prod-db-read", "30m").await;
    assert!(
        again.ok().starts_with("You already hold prod-db-read"),
        "{}",
        again.stdout
    );
    assert_eq!(again.field("binding"), id);
    assert_eq!(e.roles_in_iam().await.len(), 1);

    // --json gives the service's answer as it came, for scripts.
    let json = breakglass(&server(&e), Some(ALICE_TOKEN), &["status", &id, "--json"]).await;
    let answer: serde_json::Value = serde_json::from_str(json.ok()).expect("JSON on stdout");
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["status"], "active");
}

#[tokio::test]
async fn incidents_lists_the_callers_open_incidents_and_nothing_for_others() {
    let e = Elev::start().await;
    e.open_incident().await;
    let alice = breakglass(&server(&e), Some(ALICE_TOKEN), &["incidents"]).await;
    let lines: Vec<&str> = alice.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{}", alice.stdout);
    assert!(lines[0].starts_with("ID "), "{}", alice.stdout);
    for column in ["STATUS", "PRIORITY", "SERVICE", "TITLE", "OPENED"] {
        assert!(lines[0].contains(column), "{}", alice.stdout);
    }
    assert!(
        lines[1].starts_with("pagerduty:PFQZPSY "),
        "{}",
        alice.stdout
    );
    assert!(lines[1].contains(" open "), "{}", alice.stdout);
    assert!(lines[1].ends_with(" ago"), "{}", alice.stdout);

    let bob = breakglass(&server(&e), Some(BOB_TOKEN), &["incidents"]).await;
    assert_eq!(bob.ok(), "no open incidents for you\n");
    let bob = breakglass(&server(&e), Some(BOB_TOKEN), &["incidents", "--all"]).await;
    assert_eq!(bob.ok(), "no incidents for you\n");
}

#[tokio::test]
async fn revoke_removes_the_role_from_iam() {
    let e = Elev::start().await;
    e.open_incident().await;
    let id = elevate(&e, ALICE_TOKEN, "prod-db-read", "30m")
        .await
        .field("binding");
    assert_eq!(e.roles_in_iam().await.len(), 1);
    let run = breakglass(&server(&e), Some(ALICE_TOKEN), &["revoke", &id]).await;
    let out = run.ok();
    assert!(
        out.contains("the IAM role is being removed") || out.contains("is revoked"),
        "{out}"
    );
    e.until_no_roles(std::time::Duration::from_secs(10)).await;
    // The binding is marked revoked just after its role goes.
    e.until_revoked(&id, std::time::Duration::from_secs(5))
        .await;
    let status = breakglass(&server(&e), Some(ALICE_TOKEN), &["status", &id]).await;
    assert!(
        status
            .ok()
            .starts_with("prod-db-read on pagerduty:PFQZPSY for alice@example.com is revoked."),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains("aws sts"), "{}", status.stdout);
}

#[tokio::test]
async fn a_peer_role_waits_and_another_responder_approves_it_from_the_cli() {
    let e = Elev::start().await;
    e.open_incident().await;
    let pending = elevate(&e, ALICE_TOKEN, "prod-admin", "10m").await;
    let out = pending.ok();
    assert!(
        out.contains("waits for another responder of the incident"),
        "{out}"
    );
    let id = pending.field("binding");
    assert!(
        out.contains(&format!("\nbreakglass approve {id}\n")),
        "{out}"
    );
    assert!(e.roles_in_iam().await.is_empty());

    // Not herself.
    let own = breakglass(&server(&e), Some(ALICE_TOKEN), &["approve", &id]).await;
    assert!(own.failure().ends_with("(forbidden)"), "{}", own.stderr);

    e.add_bob().await;
    let approved = breakglass(&server(&e), Some(BOB_TOKEN), &["approve", &id]).await;
    assert!(
        approved
            .ok()
            .starts_with("Approved: alice@example.com now holds prod-admin"),
        "{}",
        approved.stdout
    );
    assert_eq!(approved.field("approved by"), "bob@example.com");
    assert_eq!(e.roles_in_iam().await.len(), 1);

    // The requester picks up the command.
    let status = breakglass(&server(&e), Some(ALICE_TOKEN), &["status", &id]).await;
    let last = status.ok().lines().last().unwrap().to_string();
    assert!(
        last.starts_with("aws sts assume-role --role-arn "),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_refusal_is_one_line_with_the_servers_code_and_exit_1() {
    let e = Elev::start().await;
    e.open_incident().await;
    let bob = elevate(&e, BOB_TOKEN, "prod-db-read", "30m").await;
    let line = bob.failure();
    assert!(line.ends_with("(not_on_call)"), "{line}");
    assert!(e.roles_in_iam().await.is_empty());

    let wrong = elevate(&e, "not-a-real-token", "prod-db-read", "30m").await;
    assert!(
        wrong
            .failure()
            .contains("(unauthenticated); check your token"),
        "{}",
        wrong.stderr
    );
}

#[tokio::test]
async fn a_missing_token_says_how_to_pass_one() {
    let run = breakglass("http://127.0.0.1:8080", None, &["incidents"]).await;
    assert_eq!(
        run.failure(),
        "breakglass: no API token: pass --token or set BREAKGLASS_TOKEN"
    );
}

#[tokio::test]
async fn an_unreachable_server_names_the_url_and_how_to_change_it() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = breakglass(
        "http://127.0.0.1:9",
        None,
        &[
            "revoke",
            "0abcdefghijklmno",
            "--server",
            &url,
            "--token",
            ALICE_TOKEN,
        ],
    )
    .await;
    let line = run.failure();
    assert!(
        line.starts_with(&format!("breakglass: cannot reach {url} (")),
        "{line}"
    );
    assert!(
        line.ends_with("; check --server or BREAKGLASS_URL"),
        "{line}"
    );
    assert!(!run.stderr.contains(ALICE_TOKEN));
}
