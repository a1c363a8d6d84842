//! A real IAM endpoint for the tests: moto's server (PyPI `moto[server]`) on a free port, one
//! process per test so that no two tests share IAM state. Killed on drop.

use std::collections::HashMap;
use std::process::Command;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

use crate::harness::Emulator;

const INSTALL: &str = "The IAM tests need moto's server: install it with \
                       `python3 -m pip install 'moto[server]'`, or run ./scripts/test, which does";

pub struct Moto {
    server: Emulator,
}

/// moto's server on `port`.
fn command(port: u16) -> Command {
    let mut command = Command::new("python3");
    command.args([
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    command
}

impl Moto {
    pub fn start() -> Moto {
        Moto {
            server: Emulator::start(command, "/moto-api/", "python3 -m moto.server", INSTALL),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The `[aws]` section of a service that uses this moto, roles under `/breakglass/`.
    pub fn aws(&self) -> breakglass::config::Aws {
        self.aws_with_path("/breakglass/")
    }

    pub fn aws_with_path(&self, role_path: &str) -> breakglass::config::Aws {
        breakglass::config::Aws {
            region: "us-east-1".into(),
            endpoint_url: Some(self.url()),
            role_path: role_path.into(),
            accounts: Vec::new(),
            identity_center: None,
        }
    }

    /// A plain IAM client on this moto, to set the scene and read back what the service did.
    pub fn client(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.url())
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An IAM client in `account` on this moto: its credentials come from an AssumeRole into
    /// it, as a granter's do (moto serves the account of the credentials an AssumeRole returned).
    pub async fn client_in(&self, account: &str) -> aws_sdk_iam::Client {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(self.url())
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .build(),
        );
        let assumed = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/test-reader"))
            .role_session_name("test")
            .send()
            .await
            .expect("AssumeRole");
        let c = assumed.credentials().expect("credentials");
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "test",
        );
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(self.url())
                .credentials_provider(creds)
                .build(),
        )
    }

    /// Every role name under `path`, over every page of ListRoles.
    pub async fn roles_under(&self, path: &str) -> Vec<String> {
        let roles: Vec<_> = self
            .client()
            .list_roles()
            .path_prefix(path)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("ListRoles");
        roles.iter().map(|r| r.role_name().to_string()).collect()
    }

    /// A role's tags, or `None` once the role is gone.
    pub async fn role_tags(&self, name: &str) -> Option<HashMap<String, String>> {
        match self.client().list_role_tags().role_name(name).send().await {
            Ok(out) => Some(
                out.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            ),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                None
            }
            Err(e) => panic!("ListRoleTags {name}: {e:?}"),
        }
    }

    /// The IAM half of the invariant every revocation test ends with: each role left under
    /// `/breakglass/` has a readable expiry still ahead and names its incident. Returns
    /// (role, incident) so that the caller checks the incident is known and not resolved.
    pub async fn roles_left_by_incident(&self) -> Vec<(String, String)> {
        let now = chrono::Utc::now();
        let mut left = Vec::new();
        for role in self.roles_under("/breakglass/").await {
            // A role deleted between the list and this read is not left.
            let Some(tags) = self.role_tags(&role).await else {
                continue;
            };
            let expires = tags
                .get("breakglass:expires-at")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .unwrap_or_else(|| panic!("{role} is left with no readable expiry: {tags:?}"));
            assert!(expires > now, "{role} is past its expiry: {tags:?}");
            let incident = tags
                .get("breakglass:incident")
                .unwrap_or_else(|| panic!("{role} is left with no incident: {tags:?}"));
            left.push((role, incident.clone()));
        }
        left
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); decode one to JSON.
pub fn policy_json(document: &str) -> serde_json::Value {
    let text = percent_decode(document);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("policy is not JSON ({e}): {text}"))
}

/// Undo RFC 3986 percent-encoding (IAM's policy documents, the SDK's query-string bodies).
pub fn percent_decode(encoded: &str) -> String {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                bytes.push(decoded);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).expect("UTF-8 once decoded")
}

/// A port that another server took between being picked and being bound is not mistaken for
/// this emulator's, though that server answers the same health check; the next port is used.
#[test]
fn an_emulator_never_takes_another_servers_port_for_its_own() {
    let other = Moto::start();
    let ours = Moto {
        server: Emulator::start_on(
            [other.server.port, crate::harness::free_port()],
            command,
            "/moto-api/",
            "python3 -m moto.server",
            INSTALL,
        ),
    };
    assert_ne!(ours.server.port, other.server.port);
    // A role made on the new one is on it alone.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        ours.client()
            .create_role()
            .role_name("only-on-ours")
            .path("/t/")
            .assume_role_policy_document("{}")
            .send()
            .await
            .expect("create_role on the new moto");
        assert_eq!(ours.roles_under("/t/").await, vec!["only-on-ours"]);
        assert!(other.roles_under("/t/").await.is_empty());
    });
}
