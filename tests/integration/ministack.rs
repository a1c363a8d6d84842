//! An IAM and STS that enforce policy: ministack (PyPI `ministack`) with `AUTH=true`, on a free
//! loopback port, one process per test. Unlike moto it evaluates trust policies, identity
//! policies and their conditions (`aws:CurrentTime`, `aws:TokenIssueTime`) on every call made
//! with credentials it issued. Killed on drop.
//!
//! Its account is 123456789012, the account of the test config's responders, so the user `alice`
//! created here is `arn:aws:iam::123456789012:user/alice`, alice's `aws_principal`. Its root keys
//! are the static keys the service uses against a local endpoint (`breakglass-local`, see
//! `Grants::from_config`), or the environment's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` when
//! set, since the service then uses those.

use std::process::Command;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

use crate::harness::Emulator;

const INSTALL: &str = "The live-session tests need ministack: install it with \
                       `python3 -m pip install ministack`, or run ./scripts/test, which does";

pub const ACCOUNT: &str = "123456789012";

pub struct Ministack {
    server: Emulator,
}

fn root_keys() -> (String, String) {
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(key), Ok(secret)) => (key, secret),
        _ => ("breakglass-local".into(), "breakglass-local".into()),
    }
}

impl Ministack {
    pub fn start() -> Ministack {
        let (key, secret) = root_keys();
        let command = |port: u16| {
            let mut command = Command::new("python3");
            command
                .args(["-m", "ministack"])
                .env("AUTH", "true")
                .env("GATEWAY_PORT", port.to_string())
                .env("BIND_HOST", "127.0.0.1")
                .env("MINISTACK_ACCOUNT_ID", ACCOUNT)
                .env("AWS_ACCESS_KEY_ID", &key)
                .env("AWS_SECRET_ACCESS_KEY", &secret)
                // Listeners on fixed ports (8883, SFTP) would collide between parallel tests.
                .env("IOT_MTLS_ENABLED", "0")
                .env("SFTP_ENABLED", "0");
            command
        };
        Ministack {
            server: Emulator::start(
                command,
                "/_ministack/health",
                "python3 -m ministack",
                INSTALL,
            ),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// An IAM client with the given credentials.
    pub fn iam_as(&self, credentials: Credentials) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.url())
            .credentials_provider(credentials)
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An STS client with the given credentials.
    pub fn sts_as(&self, credentials: Credentials) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(self.url())
            .credentials_provider(credentials)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// The account root's keys (the service's own).
    pub fn root_credentials(&self) -> Credentials {
        let (key, secret) = root_keys();
        Credentials::new(key, secret, None, None, "ministack-root")
    }

    /// IAM as the account's root, to set the scene and read back what the service did.
    pub fn root(&self) -> aws_sdk_iam::Client {
        self.iam_as(self.root_credentials())
    }
}
