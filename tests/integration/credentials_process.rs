//! `breakglass credentials` behind the real AWS CLI (`awscli` from PyPI): a profile whose
//! `credential_process` runs it, against moto. `aws --profile incident sts get-caller-identity`
//! answers with the breakglass role's session.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::Value;

use crate::elevation_support::{Elev, INCIDENT};
use crate::harness::*;

const INSTALL: &str =
    "This test needs the AWS CLI: install it with `python3 -m pip install awscli`, \
                       or run ./scripts/test, which does";

/// A config file with `incident` (asks with a reason), `noreason` (asks without) and `me`
/// (alice's own keys, which both use to assume the role).
fn aws_config(dir: &Path) -> std::path::PathBuf {
    let bin = env!("CARGO_BIN_EXE_breakglass");
    let process = |extra: &str| {
        format!(
            "{bin} credentials --incident {INCIDENT} --role prod-db-read --source-profile me --duration 30m{extra}"
        )
    };
    let text = format!(
        "[profile me]\naws_access_key_id = test\naws_secret_access_key = test\nregion = us-east-1\n\n\
         [profile incident]\ncredential_process = {}\nregion = us-east-1\n\n\
         [profile noreason]\ncredential_process = {}\nregion = us-east-1\n",
        process(" --reason aws-cli-test"),
        process(""),
    );
    let path = dir.join("config");
    std::fs::write(&path, text).unwrap();
    path
}

fn aws(e: &Elev, dir: &Path, profile: &str) -> Output {
    let mut command = Command::new("aws");
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ] {
        command.env_remove(var);
    }
    command
        .args([
            "--profile",
            profile,
            "sts",
            "get-caller-identity",
            "--output",
            "json",
        ])
        .env("AWS_CONFIG_FILE", aws_config(dir))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_ENDPOINT_URL", e.moto.url())
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("BREAKGLASS_URL", e.app.url(""))
        .env("BREAKGLASS_TOKEN", ALICE_TOKEN)
        .stdin(std::process::Stdio::null());
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run `aws` ({e}). {INSTALL}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_cli_works_as_the_breakglass_role_through_credential_process() {
    let e = Elev::start().await;
    e.open_incident().await;
    let dir = tempfile::tempdir().unwrap();

    // No live binding and no reason: refused, saying what to do; nothing is granted.
    let out = tokio::task::block_in_place(|| aws(&e, dir.path(), "noreason"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("run this once with --reason"), "{stderr}");
    assert!(e.roles_in_iam().await.is_empty());

    let out = tokio::task::block_in_place(|| aws(&e, dir.path(), "incident"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let identity: Value = serde_json::from_slice(&out.stdout).unwrap();
    let roles = e.roles_in_iam().await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(
        identity["Arn"],
        format!(
            "arn:aws:sts::123456789012:assumed-role/{}/alice@example.com",
            roles[0]
        )
    );

    // Again, and with the profile that gives no reason: the same binding, from the cache or
    // reused; no second role.
    for profile in ["incident", "noreason"] {
        let out = tokio::task::block_in_place(|| aws(&e, dir.path(), profile));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(again["Arn"], identity["Arn"]);
    }
    assert_eq!(e.roles_in_iam().await.len(), 1);
    let (status, incident) = e
        .app
        .get(&format!("/v1/incidents/{INCIDENT}"), ADMIN_TOKEN)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        incident["bindings"].as_array().unwrap().len(),
        1,
        "{incident}"
    );

    // Once the incident resolves, the cached session is not handed out: the binding is read
    // first, and no new one can be asked for.
    e.resolve().await;
    e.until_no_roles(std::time::Duration::from_secs(10)).await;
    let out = tokio::task::block_in_place(|| aws(&e, dir.path(), "incident"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("incident_not_open"), "{stderr}");
}
