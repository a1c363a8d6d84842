//! The account catalogue (`[[aws.accounts]]`) and the accounts each role may be granted in.

use std::collections::HashSet;
use std::time::Duration;

use super::Result;
use crate::config::{AccountEntry, Config, ConfigError};

pub use crate::keyspace::OWN_ACCOUNT;

/// AWS refuses a role session shorter than this.
const MIN_SESSION_AWS: Duration = Duration::from_secs(15 * 60);
/// A local emulator (`aws.endpoint_url`) takes shorter sessions: tests of their renewal use them.
const MIN_SESSION_EMULATOR: Duration = Duration::from_secs(10);
const MAX_SESSION: Duration = Duration::from_secs(12 * 3600);

impl Config {
    pub(super) fn validate_accounts(&self) -> Result {
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        let mut own = None;
        for (i, account) in self.aws.accounts.iter().enumerate() {
            let key = |field: &str| format!("aws.accounts[{i}].{field}");
            if !name_ok(&account.name) {
                return Err(ConfigError::new(
                    key("name"),
                    "use 1 to 32 lowercase letters, digits, `-` or `_`, like \"prod\"",
                ));
            }
            if !names.insert(account.name.as_str()) {
                return Err(ConfigError::new(
                    key("name"),
                    format!(
                        "account `{}` is listed twice; give each account one entry",
                        account.name
                    ),
                ));
            }
            if !is_account_id(&account.id) {
                return Err(ConfigError::new(
                    key("id"),
                    "must be the 12-digit account id",
                ));
            }
            if !ids.insert(account.id.as_str()) {
                return Err(ConfigError::new(
                    key("id"),
                    format!(
                        "account {} is listed twice under two names; keep one",
                        account.id
                    ),
                ));
            }
            self.validate_account(account, &key)?;
            if account.granter_role_arn.is_none() {
                if let Some(other) = own.replace(&account.name) {
                    return Err(ConfigError::new(
                        key("granter_role_arn"),
                        format!("`{other}` is already the service's own account (no granter role); give this one the role the service assumes there"),
                    ));
                }
            } else if account.name == OWN_ACCOUNT {
                return Err(ConfigError::new(
                    key("name"),
                    "`default` names the service's own account; call an account reached through a granter role something else",
                ));
            }
        }
        self.validate_role_accounts()
    }

    fn validate_account(&self, account: &AccountEntry, key: &dyn Fn(&str) -> String) -> Result {
        if let Some(arn) = &account.granter_role_arn {
            match iam_arn(arn) {
                Some((id, resource)) if resource.starts_with("role/") && id == account.id => {}
                Some((id, _)) if is_account_id(id) && id != account.id => {
                    return Err(ConfigError::new(
                        key("granter_role_arn"),
                        format!("names account {id}, not this entry's id {}; the granter role lives in the account it grants in", account.id),
                    ))
                }
                _ => {
                    return Err(ConfigError::new(
                        key("granter_role_arn"),
                        format!("must be a role ARN like arn:aws:iam::{}:role/breakglass-granter", account.id),
                    ))
                }
            }
        }
        if let Some(external_id) = &account.external_id {
            let value = external_id.expose();
            if account.granter_role_arn.is_none() {
                return Err(ConfigError::new(
                    key("external_id"),
                    "is sent when assuming the granter role; this account has none, so remove it",
                ));
            }
            let chars_ok = value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/_-".contains(c));
            if !(2..=1224).contains(&value.len()) || !chars_ok {
                return Err(ConfigError::new(
                    key("external_id"),
                    "must be 2 to 1224 letters, digits or `+=,.@:/_-` (what STS accepts)",
                ));
            }
        }
        if let Some(path) = &account.role_path {
            if !super::role_path_ok(path) {
                return Err(ConfigError::new(
                    key("role_path"),
                    "must be an IAM path of its own like \"/breakglass/\": it bounds what the service may touch",
                ));
            }
        }
        if let Some(arn) = &account.permissions_boundary {
            if !policy_in_account(arn, &account.id) {
                return Err(ConfigError::new(
                    key("permissions_boundary"),
                    format!("must be a managed policy ARN in account {} or AWS's, like arn:aws:iam::{}:policy/breakglass-boundary", account.id, account.id),
                ));
            }
        }
        if let Some(session) = account.granter_session {
            let min = if self.aws.endpoint_url.is_some() {
                MIN_SESSION_EMULATOR
            } else {
                MIN_SESSION_AWS
            };
            if account.granter_role_arn.is_none() {
                return Err(ConfigError::new(
                    key("granter_session"),
                    "applies to the granter role's sessions; this account has none, so remove it",
                ));
            }
            if session.0 < min || session.0 > MAX_SESSION {
                return Err(ConfigError::new(
                    key("granter_session"),
                    "must be between 15m and 12h (what STS accepts); the default is \"1h\"",
                ));
            }
        }
        Ok(())
    }

    /// Every role's `accounts` names catalogue accounts, once each; and a customer-managed
    /// policy a role attaches lives in every account the role may be granted in.
    fn validate_role_accounts(&self) -> Result {
        for (i, role) in self.roles.iter().enumerate() {
            let Some(accounts) = &role.accounts else {
                continue;
            };
            let key = format!("roles[{i}].accounts");
            if accounts.is_empty() {
                return Err(ConfigError::new(
                    key,
                    "name at least one account, or leave the key out for the service's own account",
                ));
            }
            let mut seen = HashSet::new();
            for name in accounts {
                if !seen.insert(name.as_str()) {
                    return Err(ConfigError::new(key, format!("`{name}` is listed twice")));
                }
                let entry = self.aws.accounts.iter().find(|a| a.name == *name);
                if entry.is_none() && name != OWN_ACCOUNT {
                    return Err(ConfigError::new(
                        key,
                        format!(
                            "`{name}` is not in [[aws.accounts]]; add it there or correct the name"
                        ),
                    ));
                }
                let Some(entry) = entry else { continue };
                let arns = role
                    .managed_policies
                    .iter()
                    .chain(&role.permissions_boundary);
                if let Some(arn) = arns.into_iter().find(|a| !policy_in_account(a, &entry.id)) {
                    return Err(ConfigError::new(
                        format!("roles[{i}]"),
                        format!("`{arn}` is not in account `{name}` ({}) nor AWS-managed, so it cannot be attached there; use a policy of that account or split the role", entry.id),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.chars().all(|c| c.is_ascii_digit())
}

/// `arn:<partition>:iam::<account>:<resource>` as (account, resource).
fn iam_arn(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let ok =
        scheme == "arn" && partition.starts_with("aws") && service == "iam" && region.is_empty();
    (ok && !resource.contains(char::is_whitespace)).then_some((account, resource))
}

/// A managed policy ARN that can be attached in account `id`: AWS's own, or that account's.
fn policy_in_account(arn: &str, id: &str) -> bool {
    iam_arn(arn).is_some_and(|(account, resource)| {
        (account == "aws" || account == id)
            && resource
                .strip_prefix("policy/")
                .is_some_and(|r| !r.is_empty())
    })
}

#[cfg(test)]
mod tests;
