//! The IAM documents of a grant, as pure functions: the role's name, its trust policy, the
//! role template's policy with the expiry written into every Allow statement, and the deny that
//! ends a revoked role's sessions.
//!
//! The `DateLessThan aws:CurrentTime` condition is what makes a grant self-expiring: AWS itself
//! stops honouring the role at `expires_at`, whether or not breakglass is still alive to delete it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// The condition key every Allow statement is bounded by.
const CURRENT_TIME: &str = "aws:CurrentTime";
/// When the credentials of a session were issued: what the revocation deny is bounded by.
const TOKEN_ISSUE_TIME: &str = "aws:TokenIssueTime";
/// What [`role_name`] puts before the binding id.
const ROLE_PREFIX: &str = "breakglass-";
const DATE_LESS_THAN: &str = "DateLessThan";

/// A role template's policy that cannot be made into a grant's policy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("the policy is not valid JSON: {0}")]
    NotJson(String),
    #[error("the policy has no `Statement` (or an empty one)")]
    NoStatement,
    #[error("statement {0} is not a JSON object")]
    StatementNotObject(usize),
    #[error("statement {0} has no `Effect` of \"Allow\" or \"Deny\"")]
    NoEffect(usize),
    #[error("statement {index} has a malformed `Condition`: {reason}")]
    BadCondition { index: usize, reason: String },
}

/// The IAM role of a binding. Derived from the binding id alone, so a retried grant lands on the
/// same role and finds it instead of creating a second one. 16-character ids give 27 characters,
/// well inside IAM's 64.
pub fn role_name(binding_id: &str) -> String {
    format!("{ROLE_PREFIX}{binding_id}")
}

/// The binding id a role name was derived from, if it has the shape [`role_name`] gives (the
/// id itself is not checked here). For roles whose `breakglass:binding` tag is missing.
pub fn binding_id_of(role_name: &str) -> Option<&str> {
    role_name
        .strip_prefix(ROLE_PREFIX)
        .filter(|id| !id.is_empty())
}

/// How expiry instants are written in policies and tags: RFC 3339, whole seconds, `Z`.
/// Truncating sub-seconds can only end access earlier, never later.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The role template's policy with `"DateLessThan": {"aws:CurrentTime": expires_at}` added to
/// every Allow statement. An existing condition is kept; if it already bounds
/// `aws:CurrentTime` with `DateLessThan`, the earlier of the two bounds wins. Deny statements are
/// left untouched: bounding them would widen access after expiry.
pub fn with_expiry(policy_json: &str, expires_at: DateTime<Utc>) -> Result<String, PolicyError> {
    let mut doc: Value =
        serde_json::from_str(policy_json).map_err(|e| PolicyError::NotJson(e.to_string()))?;
    let statements: Vec<&mut Value> = match doc.get_mut("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.iter_mut().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err(PolicyError::NoStatement),
    };
    for (index, statement) in statements.into_iter().enumerate() {
        let statement = statement
            .as_object_mut()
            .ok_or(PolicyError::StatementNotObject(index))?;
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => bound_statement(statement, index, expires_at)?,
            Some("Deny") => {}
            _ => return Err(PolicyError::NoEffect(index)),
        }
    }
    Ok(doc.to_string())
}

/// Add (or tighten) the expiry condition of one Allow statement.
fn bound_statement(
    statement: &mut Map<String, Value>,
    index: usize,
    expires_at: DateTime<Utc>,
) -> Result<(), PolicyError> {
    let bad = |reason: &str| PolicyError::BadCondition {
        index,
        reason: reason.to_string(),
    };
    let condition = statement
        .entry("Condition")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| bad("`Condition` must be an object"))?;
    let operator = condition
        .entry(DATE_LESS_THAN)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| bad("`DateLessThan` must be an object"))?;
    // Condition keys are case-insensitive in IAM: `aws:currenttime` is the same key.
    let existing_key = operator
        .keys()
        .find(|k| k.eq_ignore_ascii_case(CURRENT_TIME))
        .cloned();
    let mut bound = expires_at;
    if let Some(key) = existing_key {
        let existing = operator.remove(&key).unwrap_or(Value::Null);
        let theirs = latest_date(&existing).ok_or_else(|| {
            bad("`DateLessThan` `aws:CurrentTime` must be an RFC 3339 date, epoch seconds, or a list of them")
        })?;
        bound = bound.min(theirs);
    }
    operator.insert(CURRENT_TIME.into(), Value::String(timestamp(bound)));
    Ok(())
}

/// The effective bound of a `DateLessThan` value. A list is satisfied when any of its values
/// is, so the latest one is what bounds access.
fn latest_date(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .map(single_date)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max(),
        one => single_date(one),
    }
}

fn single_date(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| s.parse::<i64>().ok().and_then(epoch)),
        Value::Number(n) => n.as_i64().and_then(epoch),
        _ => None,
    }
}

fn epoch(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// The role's trust policy: only `principal_arn` may assume it, and only until `expires_at`.
pub fn trust_policy(principal_arn: &str, expires_at: DateTime<Utc>) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": principal_arn},
            "Action": "sts:AssumeRole",
            "Condition": {DATE_LESS_THAN: {CURRENT_TIME: timestamp(expires_at)}},
        }],
    })
    .to_string()
}

/// The inline policy a revocation puts on a role first: deny everything to every session whose
/// credentials were issued before `now`. IAM applies policy changes to live sessions, so this
/// ends the sessions already handed out, which deleting the role's permissions alone would leave
/// running until their own expiry.
///
/// The bound is the first whole second after `now` (not `now` truncated): a session issued in
/// the same second as the revocation is ended too, never spared by the rounding.
pub fn deny_sessions_issued_before(now: DateTime<Utc>) -> String {
    let whole = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let bound = whole + chrono::Duration::seconds(1);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {DATE_LESS_THAN: {TOKEN_ISSUE_TIME: timestamp(bound)}},
        }],
    })
    .to_string()
}

/// A value IAM accepts as a tag value: at most 256 characters of letters, digits, spaces and
/// `_ . : / = + - @`. Anything else becomes `_`, so an odd incident id cannot fail a grant.
pub fn tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// A value IAM accepts as a role description: at most 1000 characters of printable Latin-1.
pub fn description(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' | ' '..='~' | '\u{a1}'..='\u{ff}' => c,
            _ => '?',
        })
        .take(1000)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    const EXPIRY: &str = "2030-01-02T03:04:05Z";

    #[test]
    fn role_name_is_derived_from_the_binding_and_fits_iam() {
        let name = role_name("abcdefgh12345678");
        assert_eq!(name, "breakglass-abcdefgh12345678");
        assert!(name.len() <= 64);
    }

    #[test]
    fn the_binding_id_is_read_back_from_a_role_name() {
        assert_eq!(
            binding_id_of(&role_name("abcdefgh12345678")),
            Some("abcdefgh12345678")
        );
        assert_eq!(binding_id_of("breakglass-"), None);
        assert_eq!(binding_id_of("app-role"), None);
        assert_eq!(binding_id_of("Breakglass-abcdefgh12345678"), None);
    }

    #[test]
    fn the_revocation_deny_ends_every_session_issued_up_to_the_revocation() {
        let out = parse(&deny_sessions_issued_before(at("2030-01-02T03:04:05.250Z")));
        assert_eq!(
            out,
            json!({"Version":"2012-10-17","Statement":[{
                "Effect":"Deny",
                "Action":"*",
                "Resource":"*",
                "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2030-01-02T03:04:06Z"}},
            }]})
        );
        // On a whole second, the session issued in that very second is ended too.
        let out = parse(&deny_sessions_issued_before(at(EXPIRY)));
        assert_eq!(
            out["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2030-01-02T03:04:06Z"
        );
    }

    #[test]
    fn every_allow_statement_gets_the_expiry_and_denies_are_untouched() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"rds:Describe*","Resource":"*"},
            {"Effect":"Deny","Action":"rds:Delete*","Resource":"*"},
            {"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"}]}"#;
        let out = parse(&with_expiry(policy, at(EXPIRY)).unwrap());
        let statements = out["Statement"].as_array().unwrap();
        assert_eq!(
            statements[0]["Condition"],
            json!({"DateLessThan": {"aws:CurrentTime": EXPIRY}})
        );
        assert_eq!(
            statements[1],
            json!({"Effect":"Deny","Action":"rds:Delete*","Resource":"*"})
        );
        assert_eq!(
            statements[2]["Condition"],
            json!({"DateLessThan": {"aws:CurrentTime": EXPIRY}})
        );
        assert_eq!(statements[2]["Action"], json!(["s3:GetObject"]));
        assert_eq!(out["Version"], "2012-10-17");
    }

    #[test]
    fn a_single_statement_object_is_bounded_too() {
        let policy = r#"{"Statement":{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}}"#;
        let out = parse(&with_expiry(policy, at(EXPIRY)).unwrap());
        assert_eq!(
            out["Statement"]["Condition"]["DateLessThan"]["aws:CurrentTime"],
            EXPIRY
        );
    }

    #[test]
    fn existing_conditions_are_kept_alongside_the_expiry() {
        let policy = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"Bool":{"aws:SecureTransport":"true"},
                         "DateLessThan":{"aws:EpochTime":"1900000000"}}}]}"#;
        let out = parse(&with_expiry(policy, at(EXPIRY)).unwrap());
        assert_eq!(
            out["Statement"][0]["Condition"],
            json!({
                "Bool": {"aws:SecureTransport": "true"},
                "DateLessThan": {"aws:EpochTime": "1900000000", "aws:CurrentTime": EXPIRY},
            })
        );
    }

    #[test]
    fn an_earlier_existing_bound_wins_and_a_later_one_is_tightened() {
        let template = |bound: &str| {
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*",
                "Condition":{{"DateLessThan":{{"aws:currenttime":{bound}}}}}}}]}}"#
            )
        };
        let bound_of = |policy: String| {
            let out = parse(&with_expiry(&policy, at(EXPIRY)).unwrap());
            let operator = out["Statement"][0]["Condition"]["DateLessThan"].clone();
            assert_eq!(operator.as_object().unwrap().len(), 1, "{operator}");
            operator["aws:CurrentTime"].as_str().unwrap().to_string()
        };
        assert_eq!(
            bound_of(template(r#""2029-06-01T00:00:00Z""#)),
            "2029-06-01T00:00:00Z"
        );
        assert_eq!(bound_of(template(r#""2031-06-01T00:00:00Z""#)), EXPIRY);
        // A list is satisfied by any of its values, so its latest value is the bound.
        assert_eq!(
            bound_of(template(
                r#"["2029-06-01T00:00:00Z","2029-07-01T00:00:00+02:00"]"#
            )),
            "2029-06-30T22:00:00Z"
        );
        assert_eq!(
            bound_of(template(r#""1600000000""#)),
            "2020-09-13T12:26:40Z"
        );
    }

    #[test]
    fn an_unreadable_existing_bound_is_an_error_not_a_guess() {
        let policy = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"DateLessThan":{"aws:CurrentTime":"next tuesday"}}}]}"#;
        assert!(matches!(
            with_expiry(policy, at(EXPIRY)),
            Err(PolicyError::BadCondition { index: 0, .. })
        ));
        let policy = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":"yes"}]}"#;
        assert!(matches!(
            with_expiry(policy, at(EXPIRY)),
            Err(PolicyError::BadCondition { index: 0, .. })
        ));
    }

    #[test]
    fn malformed_templates_are_refused() {
        let t = at(EXPIRY);
        assert!(matches!(
            with_expiry("not json", t),
            Err(PolicyError::NotJson(_))
        ));
        assert_eq!(
            with_expiry(r#"{"Version":"2012-10-17"}"#, t),
            Err(PolicyError::NoStatement)
        );
        assert_eq!(
            with_expiry(r#"{"Statement":[]}"#, t),
            Err(PolicyError::NoStatement)
        );
        assert_eq!(
            with_expiry(r#"{"Statement":[{"Action":"s3:*","Resource":"*"}]}"#, t),
            Err(PolicyError::NoEffect(0))
        );
        assert_eq!(
            with_expiry(
                r#"{"Statement":[{"Effect":"Deny","Action":"*"},{"Effect":"allow"}]}"#,
                t
            ),
            Err(PolicyError::NoEffect(1))
        );
        assert_eq!(
            with_expiry(r#"{"Statement":["Allow"]}"#, t),
            Err(PolicyError::StatementNotObject(0))
        );
    }

    #[test]
    fn trust_policy_names_only_the_principal_until_expiry() {
        let arn = "arn:aws:iam::123456789012:user/alice";
        let out = parse(&trust_policy(arn, at("2030-01-02T03:04:05.987Z")));
        assert_eq!(
            out,
            json!({"Version":"2012-10-17","Statement":[{
                "Effect":"Allow",
                "Principal":{"AWS":arn},
                "Action":"sts:AssumeRole",
                "Condition":{"DateLessThan":{"aws:CurrentTime":EXPIRY}},
            }]})
        );
    }

    #[test]
    fn tag_values_and_descriptions_are_made_acceptable_to_iam() {
        assert_eq!(tag_value("pagerduty:PFQZPSY"), "pagerduty:PFQZPSY");
        assert_eq!(tag_value("alice+x@example.com"), "alice+x@example.com");
        assert_eq!(tag_value("a#b\"c"), "a_b_c");
        assert_eq!(tag_value(&"x".repeat(300)).len(), 256);
        assert_eq!(description("résumé ✓"), "résumé ?");
        assert_eq!(description(&"y".repeat(1200)).len(), 1000);
    }
}
