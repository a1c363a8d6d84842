//! The responder directory from `[[responders]]`: who a person is (their email), how each incident
//! tool names them, and which AWS principal they assume roles as.
//!
//! An email inside a webhook payload is never taken as identity; only this directory maps a tool's
//! user to a breakglass subject.

use std::collections::{HashMap, HashSet};

use crate::config::{ConfigError, IdentityCenter, ResponderEntry};
use crate::incidents::state::Directory;
use crate::incidents::{Source, ToolUser};

/// A person breakglass knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    /// The one AWS identity their grants trust: their IAM principal, or their Identity Center
    /// session ([`IdentityCenter::session_principal`]).
    pub aws_principal: Option<String>,
}

/// Which field of a tool's user a configured tool id is compared with. Each configured value is
/// compared with one field only, so that a user cannot match someone else's entry through
/// another field (a Grafana username chosen to equal someone's OnCall user id, say). Display
/// names are never compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Username,
    Email,
}

/// What a configured tool id is matched on, and its normalized value (trimmed, ASCII
/// lower-cased). PagerDuty and Grafana Incident: the user id. Opsgenie: the username (an email
/// address), which is how Opsgenie names a user and what its normalizer takes as the id. Grafana
/// OnCall: `id:U…` the OnCall user id,
/// `username:…` or `email:…`; without a prefix, an email address is matched as the email and
/// anything else as the username. An empty value is refused.
pub fn tool_key(source: Source, configured: &str) -> Result<(Field, String), String> {
    let (field, value) = match source {
        Source::Pagerduty | Source::GrafanaIncident | Source::Opsgenie => {
            (Field::Id, normalize(configured))
        }
        Source::GrafanaOncall => {
            let trimmed = configured.trim();
            match trimmed.split_once(':') {
                Some((kind, rest)) if kind.eq_ignore_ascii_case("id") => {
                    (Field::Id, normalize(rest))
                }
                Some((kind, rest)) if kind.eq_ignore_ascii_case("username") => {
                    (Field::Username, normalize(rest))
                }
                Some((kind, rest)) if kind.eq_ignore_ascii_case("email") => {
                    (Field::Email, normalize(rest))
                }
                _ if trimmed.contains('@') => (Field::Email, normalize(trimmed)),
                _ => (Field::Username, normalize(trimmed)),
            }
        }
    };
    if value.is_empty() {
        return Err("is empty".into());
    }
    Ok((field, value))
}

/// The `[[responders]]` tool ids, checked at load: each is one [`tool_key`] takes, and no two
/// entries would match the same tool user (compared as matching compares them: trimmed,
/// ignoring ASCII case, per field), since the directory could not tell who that user is.
pub fn check_config(entries: &[ResponderEntry]) -> Result<(), ConfigError> {
    let mut taken = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        for (tool, source, id) in tool_ids(entry) {
            let Some(id) = id else { continue };
            let key = format!("responders[{i}].{tool}");
            let matched_on = match tool_key(source, id) {
                Ok(matched_on) => matched_on,
                Err(why) => {
                    let fix = format!("`{id}` {why}; write the person's id in {tool}");
                    return Err(ConfigError::new(key, fix));
                }
            };
            if !taken.insert((source, matched_on)) {
                return Err(ConfigError::new(
                    key,
                    format!("`{id}` already belongs to another responder; each tool id maps to one person, so fix the directory before starting"),
                ));
            }
        }
    }
    Ok(())
}

/// An entry's tool ids: the config key, the source it names a user of, the configured value.
fn tool_ids(entry: &ResponderEntry) -> [(&'static str, Source, Option<&str>); 4] {
    [
        ("pagerduty", Source::Pagerduty, entry.pagerduty.as_deref()),
        ("opsgenie", Source::Opsgenie, entry.opsgenie.as_deref()),
        (
            "grafana_oncall",
            Source::GrafanaOncall,
            entry.grafana_oncall.as_deref(),
        ),
        (
            "grafana_incident",
            Source::GrafanaIncident,
            entry.grafana_incident.as_deref(),
        ),
    ]
}

/// How a configured tool id and the value a tool reports are both compared: trimmed, ASCII
/// lower-cased. One function for both sides, so that they cannot drift apart.
fn normalize(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

/// `U` and twelve upper-case letters or digits, the shape of a Grafana OnCall user id, written
/// without the `id:` prefix (which earlier versions did not need).
fn looks_like_oncall_user_id(value: &str) -> bool {
    let v = value.trim();
    v.len() == 13
        && v.starts_with('U')
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Lookup tables built once from the config.
#[derive(Debug, Default)]
pub struct ResponderDirectory {
    people: Vec<Person>,
    /// (source, field, normalized value) -> index into `people`.
    by_tool_id: HashMap<(Source, Field, String), usize>,
}

impl ResponderDirectory {
    pub fn new(entries: &[ResponderEntry], identity_center: Option<&IdentityCenter>) -> Self {
        let mut dir = Self::default();
        for entry in entries {
            let index = dir.people.len();
            dir.people.push(Person {
                email: entry.email.trim().to_owned(),
                aws_principal: entry.aws_principal.clone().or_else(|| {
                    let user = entry.identity_center_user.as_deref()?;
                    identity_center?.session_principal(user)
                }),
            });
            for (_, source, id) in tool_ids(entry) {
                if let (Source::GrafanaOncall, Some(id)) = (source, id) {
                    if looks_like_oncall_user_id(id) {
                        tracing::warn!(
                            responder = %entry.email.trim(),
                            "`grafana_oncall = \"{id}\"` looks like an OnCall user id but is matched as a username; write `id:{id}` to match the user id",
                            id = id.trim()
                        );
                    }
                }
                // `check_config` has refused empty values and collisions before this runs.
                if let Some((field, value)) = id.and_then(|id| tool_key(source, id).ok()) {
                    dir.by_tool_id.insert((source, field, value), index);
                }
            }
        }
        dir
    }

    /// A person by email, case-insensitively.
    pub fn person(&self, email: &str) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(email))
    }
}

impl Directory for ResponderDirectory {
    /// Each field the tool reports is looked up among the values configured for that field
    /// ([`tool_key`]), compared exactly after trimming and ASCII lower-casing. A user whose
    /// fields name two different people matches nobody.
    fn email_for(&self, source: Source, user: &ToolUser) -> Option<String> {
        let mut found: Option<usize> = None;
        for (field, value) in [
            (Field::Id, Some(&user.id)),
            (Field::Username, user.username.as_ref()),
            (Field::Email, user.email.as_ref()),
        ] {
            let Some(value) = value else { continue };
            let key = (source, field, normalize(value));
            if let Some(&index) = self.by_tool_id.get(&key) {
                if found.is_some_and(|f| f != index) {
                    tracing::warn!(
                        source = source.as_str(),
                        "a tool user's fields match two different responders; matching neither"
                    );
                    return None;
                }
                found = Some(index);
            }
        }
        found.map(|i| self.people[i].email.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ResponderEntry {
        ResponderEntry {
            email: "alice@example.com".into(),
            aws_principal: Some("arn:aws:iam::123456789012:user/alice".into()),
            identity_center_user: None,
            pagerduty: Some("PJ0LVEB".into()),
            opsgenie: Some("alice@example.com".into()),
            grafana_oncall: Some("alice".into()),
            grafana_incident: Some("grafana-incident:user-123".into()),
        }
    }

    #[test]
    fn maps_each_tool_id_to_the_same_person_and_only_for_that_tool() {
        let dir = ResponderDirectory::new(&[entry()], None);
        let alice = Some("alice@example.com".to_string());
        assert_eq!(
            dir.email_for(Source::Pagerduty, &ToolUser::by_id("PJ0LVEB")),
            alice
        );
        assert_eq!(
            dir.email_for(Source::Opsgenie, &ToolUser::by_id("Alice@Example.com")),
            alice
        );
        let oncall = ToolUser {
            id: "U123".into(),
            username: Some("alice".into()),
            ..ToolUser::default()
        };
        assert_eq!(dir.email_for(Source::GrafanaOncall, &oncall), alice);
        assert_eq!(
            dir.email_for(Source::Opsgenie, &ToolUser::by_id("PJ0LVEB")),
            None
        );
        assert_eq!(
            dir.email_for(Source::Pagerduty, &ToolUser::by_id("PUNKNOWN")),
            None
        );
    }

    fn oncall(
        id: &str,
        username: Option<&str>,
        email: Option<&str>,
        name: Option<&str>,
    ) -> ToolUser {
        ToolUser {
            id: id.into(),
            username: username.map(Into::into),
            email: email.map(Into::into),
            name: name.map(Into::into),
        }
    }

    #[test]
    fn an_identity_center_person_is_trusted_as_their_session() {
        let ic = IdentityCenter {
            role_arn: "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_R_0a1b".into(),
        };
        let sso = ResponderEntry {
            aws_principal: None,
            identity_center_user: Some("alice@example.com".into()),
            ..entry()
        };
        let dir = ResponderDirectory::new(std::slice::from_ref(&sso), Some(&ic));
        assert_eq!(
            dir.person("alice@example.com")
                .unwrap()
                .aws_principal
                .as_deref(),
            Some("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_R_0a1b/alice@example.com")
        );
        // An IAM principal is used as it is.
        let dir = ResponderDirectory::new(&[entry()], Some(&ic));
        assert_eq!(
            dir.person("alice@example.com")
                .unwrap()
                .aws_principal
                .as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        // Without the permission-set role there is nothing to trust.
        let dir = ResponderDirectory::new(&[sso], None);
        assert_eq!(dir.person("alice@example.com").unwrap().aws_principal, None);
    }

    fn with_oncall(configured: &str) -> ResponderDirectory {
        ResponderDirectory::new(
            &[ResponderEntry {
                grafana_oncall: Some(configured.into()),
                ..entry()
            }],
            None,
        )
    }

    /// Each configured value is compared with one field only: a username chosen to equal
    /// someone's user id, or an email set to someone's username, matches nobody.
    #[test]
    fn a_configured_id_matches_only_its_own_field() {
        let alice = Some("alice@example.com".to_string());
        let by_id = with_oncall("id:UABC123");
        assert_eq!(
            by_id.email_for(Source::GrafanaOncall, &oncall("UABC123", None, None, None)),
            alice
        );
        assert_eq!(
            by_id.email_for(
                Source::GrafanaOncall,
                &oncall("UEVIL", Some("UABC123"), Some("UABC123"), None)
            ),
            None
        );
        let by_username = with_oncall("alice");
        assert_eq!(
            by_username.email_for(
                Source::GrafanaOncall,
                &oncall("U1", Some(" Alice "), None, None)
            ),
            alice
        );
        for evil in [
            oncall("alice", None, None, None),
            oncall("U2", None, Some("alice"), None),
        ] {
            assert_eq!(
                by_username.email_for(Source::GrafanaOncall, &evil),
                None,
                "{evil:?}"
            );
        }
        let by_email = with_oncall("Alice@Example.com");
        assert_eq!(
            by_email.email_for(
                Source::GrafanaOncall,
                &oncall("U1", None, Some("alice@example.com"), None)
            ),
            alice
        );
        assert_eq!(
            by_email.email_for(
                Source::GrafanaOncall,
                &oncall("U2", Some("alice@example.com"), None, None)
            ),
            None
        );
    }

    #[test]
    fn an_unprefixed_oncall_user_id_is_told_apart_for_the_warning() {
        assert!(looks_like_oncall_user_id("UVMX6YI9VY9PV"));
        assert!(!looks_like_oncall_user_id("id:UVMX6YI9VY9PV"));
        assert!(!looks_like_oncall_user_id("admin"));
        assert!(!looks_like_oncall_user_id("uvmx6yi9vy9pv"));
    }

    #[test]
    fn display_names_never_match() {
        let dir = ResponderDirectory::new(&[entry()], None);
        for name in [
            "PJ0LVEB",
            "alice@example.com",
            "alice",
            "grafana-incident:user-123",
        ] {
            let user = oncall("PSOMEONE", None, None, Some(name));
            for source in [
                Source::Pagerduty,
                Source::Opsgenie,
                Source::GrafanaOncall,
                Source::GrafanaIncident,
            ] {
                assert_eq!(dir.email_for(source, &user), None, "{source:?} {name}");
            }
        }
    }

    #[test]
    fn emails_match_exactly_after_trimming_and_ascii_case() {
        let dir = ResponderDirectory::new(&[entry()], None);
        assert!(dir.person("ALICE@example.COM").is_some());
        for other in [
            "alice@example.com.",
            "alice@example.co",
            "\u{430}lice@example.com", // Cyrillic a
            "alice@examp\u{13b}e.com",
            "alice+x@example.com",
            "",
        ] {
            assert!(dir.person(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_user_whose_fields_name_two_people_matches_neither() {
        let dir = ResponderDirectory::new(
            &[
                ResponderEntry {
                    grafana_oncall: Some("id:U1".into()),
                    ..entry()
                },
                ResponderEntry {
                    email: "bob@example.com".into(),
                    grafana_oncall: Some("bob".into()),
                    ..entry()
                },
            ],
            None,
        );
        let both = oncall("U1", Some("bob"), None, None);
        assert_eq!(dir.email_for(Source::GrafanaOncall, &both), None);
    }
}
