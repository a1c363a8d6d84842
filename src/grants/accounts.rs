//! The accounts grants are made in: one IAM adapter per account of `[[aws.accounts]]`, plus the
//! service's own account.
//!
//! The service's own account is reached with the service's own credentials. Every other account
//! through its granter role: the service assumes it with STS (the account's `ExternalId`, the
//! session name `breakglass`), keeps the session's credentials and renews them a while before
//! they end, so no grant waits on STS but the first. Each account is separate: a granter that
//! cannot be assumed, or IAM failing there, fails the calls for that account with an error naming
//! it (retryable, so revocations there are retried) and holds up nothing elsewhere.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_sdk_iam::config::{
    Credentials, IdentityCache, ProvideCredentials, SharedCredentialsProvider,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::{GrantError, Grants};
use crate::config::{AccountEntry, Aws};
use crate::keyspace::{account_name, OWN_ACCOUNT};
use crate::metrics::AccountOutcomeLabels;

/// The session name of every granter session: what CloudTrail in the member account shows.
const SESSION_NAME: &str = "breakglass";

/// How long a granter session lasts unless the account says otherwise.
const DEFAULT_SESSION: Duration = Duration::from_secs(3600);

/// One account grants are made in.
#[derive(Clone)]
pub struct Account {
    /// The catalogue name (`default` for the service's own account when the catalogue has none).
    pub name: String,
    /// The account id, when the catalogue gives it.
    pub id: Option<String>,
    pub grants: Grants,
    /// A permissions boundary every grant here carries unless its role names its own.
    pub permissions_boundary: Option<String>,
    credentials: Option<Arc<CredentialsState>>,
}

impl Account {
    /// `prod (111111111111)`, or just the name.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("{} ({id})", self.name),
            None => self.name.clone(),
        }
    }

    /// Say which account an error happened in; when the granter role could not be assumed,
    /// say that instead of the IAM call's bare failure.
    pub fn error(&self, err: GrantError) -> GrantError {
        if let GrantError::Account { .. } = err {
            return err;
        }
        let assume_failed = self
            .credentials
            .as_ref()
            .and_then(|c| c.last_error.lock().ok()?.clone());
        let (message, retryable) = match assume_failed {
            Some(why) => (format!("cannot assume its granter role: {why}"), true),
            None => (err.to_string(), err.is_retryable()),
        };
        GrantError::Account {
            account: self.label(),
            message,
            retryable,
            no_such_entity: err.is_no_such_entity(),
        }
    }
}

/// Every account, by name. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    own: String,
    by_name: Arc<BTreeMap<String, Account>>,
}

impl Accounts {
    /// Build every account's IAM adapter from `[aws]`. Nothing is called yet: a granter role is
    /// first assumed when its account is first used.
    pub async fn from_config(aws: &Aws, assumed: Family<AccountOutcomeLabels, Counter>) -> Self {
        let own_entry = aws.accounts.iter().find(|a| a.granter_role_arn.is_none());
        let own_name = own_entry
            .map_or(OWN_ACCOUNT, |a| a.name.as_str())
            .to_string();
        let sdk = super::iam::sdk_config(aws).await;
        let mut by_name = BTreeMap::new();
        by_name.insert(
            own_name.clone(),
            Account {
                name: own_name.clone(),
                id: own_entry.map(|a| a.id.clone()),
                grants: Grants::with_client(
                    aws_sdk_iam::Client::new(&sdk),
                    own_entry
                        .and_then(|a| a.role_path.as_deref())
                        .unwrap_or(&aws.role_path),
                ),
                permissions_boundary: own_entry.and_then(|a| a.permissions_boundary.clone()),
                credentials: None,
            },
        );
        for entry in aws.accounts.iter().filter(|a| a.granter_role_arn.is_some()) {
            let account = Self::member(aws, entry, &sdk, assumed.clone()).await;
            by_name.insert(entry.name.clone(), account);
        }
        Self {
            own: own_name,
            by_name: Arc::new(by_name),
        }
    }

    async fn member(
        aws: &Aws,
        entry: &AccountEntry,
        sdk: &aws_config::SdkConfig,
        assumed: Family<AccountOutcomeLabels, Counter>,
    ) -> Account {
        let session = entry.granter_session.map_or(DEFAULT_SESSION, |d| d.0);
        let mut builder =
            AssumeRoleProvider::builder(entry.granter_role_arn.clone().unwrap_or_default())
                .session_name(SESSION_NAME)
                .session_length(session)
                .configure(sdk);
        if let Some(external_id) = &entry.external_id {
            builder = builder.external_id(external_id.expose());
        }
        let state = Arc::new(CredentialsState {
            account: entry.name.clone(),
            inner: builder.build().await,
            assumed,
            last_error: Mutex::new(None),
        });
        // Renew a quarter of the session (at most five minutes) before it ends, so that no
        // call is signed with credentials about to lapse.
        let buffer = (session / 4).min(Duration::from_secs(300));
        let config = aws_sdk_iam::config::Builder::from(sdk)
            .credentials_provider(SharedCredentialsProvider::new(Counted(state.clone())))
            .identity_cache(IdentityCache::lazy().buffer_time(buffer).build())
            .build();
        let path = entry.role_path.as_deref().unwrap_or(&aws.role_path);
        Account {
            name: entry.name.clone(),
            id: Some(entry.id.clone()),
            grants: Grants::with_client(aws_sdk_iam::Client::from_conf(config), path),
            permissions_boundary: entry.permissions_boundary.clone(),
            credentials: Some(state),
        }
    }

    /// The name of the service's own account.
    pub fn own(&self) -> &str {
        &self.own
    }

    /// The account of that name. The service's own account also answers to `default`, the
    /// name bindings made before there was a catalogue carry.
    pub fn get(&self, name: &str) -> Option<&Account> {
        self.by_name.get(account_name(name, &self.own))
    }

    /// Every account, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.by_name.values()
    }
}

/// A granter role's credentials: counted by outcome, the last failure kept for error messages.
struct CredentialsState {
    account: String,
    inner: AssumeRoleProvider,
    assumed: Family<AccountOutcomeLabels, Counter>,
    last_error: Mutex<Option<String>>,
}

#[derive(Clone)]
struct Counted(Arc<CredentialsState>);

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "granter credentials of account {}", self.0.account)
    }
}

impl ProvideCredentials for Counted {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let state = &self.0;
            let result: Result<Credentials, _> = state.inner.provide_credentials().await;
            let outcome = if result.is_ok() { "ok" } else { "error" };
            state
                .assumed
                .get_or_create(&AccountOutcomeLabels {
                    account: state.account.clone(),
                    outcome: outcome.into(),
                })
                .inc();
            let why = result.as_ref().err().map(|e| super::error::chain(e));
            match &why {
                Some(why) => {
                    tracing::warn!(account = %state.account, error = %why, "cannot assume the account's granter role")
                }
                None => {
                    tracing::info!(account = %state.account, "assumed the account's granter role")
                }
            }
            if let Ok(mut last) = state.last_error.lock() {
                *last = why;
            }
            result
        })
    }
}
