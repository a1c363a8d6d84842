//! Who may do what: the incident sources and their credentials, the API's callers, the
//! responders and the roles they may ask for.

use std::collections::HashSet;

use super::Result;
use crate::config::{Config, ConfigError, Oidc, SourceSection};
use crate::keyspace::Source;

/// The longest `max_duration` a role may have.
const MAX_ROLE_DURATION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

impl Config {
    pub(super) fn validate_sources(&self) -> Result {
        let s = &self.sources;
        for (name, section, signed) in [
            ("pagerduty", &s.pagerduty, true),
            ("grafana_incident", &s.grafana_incident, true),
            ("opsgenie", &s.opsgenie, false),
            ("grafana_oncall", &s.grafana_oncall, false),
        ] {
            if let Some(section) = section {
                validate_source(name, section, signed)?;
            }
        }
        Ok(())
    }

    pub(super) fn validate_auth(&self) -> Result {
        let mut seen = HashSet::new();
        for (i, token) in self.auth.tokens.iter().enumerate() {
            let key = |field: &str| format!("auth.tokens[{i}].{field}");
            if token.sha256.len() != 64 || hex::decode(&token.sha256).is_err() {
                return Err(ConfigError::new(
                    key("sha256"),
                    "must be 64 hex characters: the SHA-256 of the token, e.g. `printf %s \"$TOKEN\" | sha256sum`",
                ));
            }
            if !seen.insert(token.sha256.to_ascii_lowercase()) {
                return Err(ConfigError::new(
                    key("sha256"),
                    "the same token is listed twice; give each token one entry",
                ));
            }
            if token.subject.trim().is_empty() {
                return Err(ConfigError::new(
                    key("subject"),
                    "name who the token belongs to: a responder's email or an operator name",
                ));
            }
        }
        match &self.auth.oidc {
            Some(oidc) => validate_oidc(oidc),
            None => Ok(()),
        }
    }

    pub(super) fn validate_responders(&self) -> Result {
        let mut emails = HashSet::new();
        for (i, r) in self.responders.iter().enumerate() {
            let key = |field: &str| format!("responders[{i}].{field}");
            let email = r.email.trim();
            if !looks_like_email(email) {
                return Err(ConfigError::new(
                    key("email"),
                    "must be an email address like alice@example.com",
                ));
            }
            if !emails.insert(email.to_ascii_lowercase()) {
                return Err(ConfigError::new(
                    key("email"),
                    format!("duplicate responder `{email}`; merge the two entries into one"),
                ));
            }
            if let Some(arn) = &r.aws_principal {
                if !is_iam_principal_arn(arn) {
                    return Err(ConfigError::new(
                        key("aws_principal"),
                        "must be an IAM user or role ARN like arn:aws:iam::123456789012:user/alice",
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn validate_roles(&self) -> Result {
        let mut names = HashSet::new();
        for (i, role) in self.roles.iter().enumerate() {
            let key = |field: &str| format!("roles[{i}].{field}");
            let name_ok = !role.name.is_empty()
                && role.name.len() <= 64
                && role
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                return Err(ConfigError::new(
                    key("name"),
                    "use 1 to 64 letters, digits, `-` or `_`",
                ));
            }
            if !names.insert(role.name.as_str()) {
                return Err(ConfigError::new(
                    key("name"),
                    format!("role `{}` is defined twice; rename or merge one", role.name),
                ));
            }
            if role.max_duration.0.as_secs() < 1 {
                return Err(ConfigError::new(
                    key("max_duration"),
                    "must be at least 1 second, like \"1h\"",
                ));
            }
            if role.max_duration.0 > MAX_ROLE_DURATION {
                return Err(ConfigError::new(
                    key("max_duration"),
                    "must be at most 30 days: emergency access that lasts longer is standing access",
                ));
            }
            if role.approval != "auto" && role.approval != "peer" {
                return Err(ConfigError::new(
                    key("approval"),
                    "must be \"auto\" or \"peer\"",
                ));
            }
            if let Some(sources) = &role.when.sources {
                for (j, source) in sources.iter().enumerate() {
                    if source.parse::<Source>().is_err() {
                        return Err(ConfigError::new(
                            key(&format!("when.sources[{j}]")),
                            format!("`{source}` is not a source; use pagerduty, opsgenie, grafana-oncall or grafana-incident"),
                        ));
                    }
                }
            }
            let policy_arns = role
                .managed_policies
                .iter()
                .enumerate()
                .map(|(j, arn)| (format!("managed_policies[{j}]"), arn))
                .chain(
                    role.permissions_boundary
                        .iter()
                        .map(|arn| ("permissions_boundary".to_owned(), arn)),
                );
            for (field, arn) in policy_arns {
                if !is_policy_arn(arn) {
                    return Err(ConfigError::new(
                        key(&field),
                        "must be an IAM managed policy ARN like arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/name",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn validate_source(name: &str, section: &SourceSection, signed: bool) -> Result {
    let key = |field: &str| format!("sources.{name}.{field}");
    if signed {
        if section.secrets.is_empty() {
            return Err(ConfigError::new(
                key("secrets"),
                "give at least one webhook signing secret (literal, { env = \"VAR\" } or { file = \"path\" })",
            ));
        }
        if !section.tokens.is_empty() {
            return Err(ConfigError::new(
                key("tokens"),
                "this source signs its webhooks; use `secrets`, not `tokens`",
            ));
        }
    } else {
        if section.tokens.is_empty() {
            return Err(ConfigError::new(
                key("tokens"),
                "give at least one shared token (literal, { env = \"VAR\" } or { file = \"path\" })",
            ));
        }
        if !section.secrets.is_empty() {
            return Err(ConfigError::new(
                key("secrets"),
                "this source cannot sign webhooks; use `tokens`, not `secrets`",
            ));
        }
    }
    if section.rate_per_second == 0 || section.rate_burst == 0 {
        return Err(ConfigError::new(
            key("rate_per_second"),
            "rate_per_second and rate_burst must both be at least 1",
        ));
    }
    if name != "grafana_incident" && section.observers_are_responders {
        return Err(ConfigError::new(
            key("observers_are_responders"),
            "only Grafana Incident has observers; remove this key",
        ));
    }
    Ok(())
}

fn validate_oidc(oidc: &Oidc) -> Result {
    let key = |field: &str| format!("auth.oidc.{field}");
    match (&oidc.jwks_url, &oidc.jwks_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                key("jwks_url"),
                "give either `jwks_url` or `jwks_file`, not both; remove one",
            ))
        }
        (None, None) => {
            return Err(ConfigError::new(
                key("jwks_url"),
                "give the identity provider's signing keys: `jwks_url` (its `jwks_uri`) or `jwks_file` (a saved copy)",
            ))
        }
        (Some(url), None) => {
            let scheme_ok = reqwest::Url::parse(url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.host_str().is_some()
            });
            if !scheme_ok {
                return Err(ConfigError::new(
                    key("jwks_url"),
                    "must be an http(s) URL like https://idp.example.com/.well-known/jwks.json",
                ));
            }
        }
        (None, Some(_)) => {}
    }
    if oidc.issuer.trim().is_empty() {
        return Err(ConfigError::new(
            key("issuer"),
            "give the identity provider's issuer, exactly as its tokens' `iss` claim says, like https://idp.example.com",
        ));
    }
    if oidc.audience.trim().is_empty() {
        return Err(ConfigError::new(
            key("audience"),
            "give the audience the tokens are issued for (their `aud` claim), usually breakglass's client id at the identity provider",
        ));
    }
    if oidc.email_claim.trim().is_empty() {
        return Err(ConfigError::new(
            key("email_claim"),
            "name the claim holding the caller's email, or remove the key for the default `email`",
        ));
    }
    for (i, admin) in oidc.admins.iter().enumerate() {
        if !looks_like_email(admin.trim()) {
            return Err(ConfigError::new(
                format!("auth.oidc.admins[{i}]"),
                "must be an email address like alice@example.com",
            ));
        }
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((user, domain)) if !user.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace))
}

/// `arn:<partition>:iam::<12-digit account or "aws">:policy/<path+name>`.
fn is_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && (account == "aws"
            || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
        && resource
            .strip_prefix("policy/")
            .is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace))
}

/// `arn:<partition>:iam::<12-digit account>:user/<path+name>`, `...:role/...` or `...:root`.
fn is_iam_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && (resource == "root"
            || ["user/", "role/"].iter().any(|p| {
                resource
                    .strip_prefix(p)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
            }))
}
