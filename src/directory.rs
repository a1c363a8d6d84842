//! The responder directory from `[[responders]]`: who a person is (their email), how each incident
//! tool names them, and which AWS principal they assume roles as.
//!
//! An email inside a webhook payload is never taken as identity; only this directory maps a tool's
//! user to a breakglass subject.

use std::collections::HashMap;

use crate::config::ResponderEntry;
use crate::incidents::state::Directory;
use crate::incidents::{Source, ToolUser};

/// A person breakglass knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub aws_principal: Option<String>,
}

/// Lookup tables built once from the config.
#[derive(Debug, Default)]
pub struct ResponderDirectory {
    people: Vec<Person>,
    /// (source, lower-cased tool id) -> index into `people`.
    by_tool_id: HashMap<(Source, String), usize>,
}

impl ResponderDirectory {
    pub fn new(entries: &[ResponderEntry]) -> Self {
        let mut dir = Self::default();
        for entry in entries {
            let index = dir.people.len();
            dir.people.push(Person {
                email: entry.email.trim().to_owned(),
                aws_principal: entry.aws_principal.clone(),
            });
            for (source, id) in [
                (Source::Pagerduty, &entry.pagerduty),
                (Source::Opsgenie, &entry.opsgenie),
                (Source::GrafanaOncall, &entry.grafana_oncall),
                (Source::GrafanaIncident, &entry.grafana_incident),
            ] {
                if let Some(id) = id {
                    dir.by_tool_id
                        .insert((source, id.trim().to_ascii_lowercase()), index);
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
    /// The configured tool id may be the user's id, username or email as the tool reports them
    /// (Grafana OnCall users are configured by username or email).
    fn email_for(&self, source: Source, user: &ToolUser) -> Option<String> {
        [Some(&user.id), user.username.as_ref(), user.email.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|name| {
                self.by_tool_id
                    .get(&(source, name.trim().to_ascii_lowercase()))
            })
            .map(|&i| self.people[i].email.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ResponderEntry {
        ResponderEntry {
            email: "alice@example.com".into(),
            aws_principal: Some("arn:aws:iam::123456789012:user/alice".into()),
            pagerduty: Some("PJ0LVEB".into()),
            opsgenie: Some("alice@example.com".into()),
            grafana_oncall: Some("alice".into()),
            grafana_incident: Some("grafana-incident:user-123".into()),
        }
    }

    #[test]
    fn maps_each_tool_id_to_the_same_person_and_only_for_that_tool() {
        let dir = ResponderDirectory::new(&[entry()]);
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
}
