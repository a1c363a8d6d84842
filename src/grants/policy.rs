//! The IAM documents of a grant, as pure functions: the role's name, its trust policy, the
//! role template's policy with the expiry written into every Allow statement, and the deny that
//! ends a revoked role's sessions.
//!
//! The `DateLessThan aws:CurrentTime` condition is what makes a grant self-expiring: AWS itself
//! stops honouring the role at `expires_at`, whether or not breakglass is still alive to delete it.
//!
//! [`render`] builds every document of a grant and [`check`] reads them back before any IAM
//! call. Documents are built as JSON values, never by pasting text, and data from incidents or
//! people (incident ids, emails) reaches only tags and the description, through [`tag_value`] and
//! [`description`]; so a quote, a brace or a JSON fragment in an incident id cannot change what
//! a policy says. [`check`] is the second line: whatever [`render`] did, the documents sent are
//! parsed again and refused unless the trust policy names exactly the responder's principal,
//! every Allow statement ends at the expiry, and every value fits IAM's limits.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::{GrantSpec, TAG_ACCOUNT, TAG_BINDING, TAG_EXPIRES_AT, TAG_INCIDENT, TAG_SUBJECT};

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
    /// A rendered document failed the check run before any IAM call. Never expected: it means
    /// rendering let something through that it should not have.
    #[error("the rendered {document} was refused before reaching IAM: {reason}")]
    Unsafe {
        document: &'static str,
        reason: String,
    },
}

/// IAM's limits: an inline role policy of 10,240 characters, a trust policy of 2,048 (the
/// default quota), a description of 1,000, a tag value of 256, a role name of 64.
const MAX_INLINE_POLICY: usize = 10_240;
const MAX_TRUST_POLICY: usize = 2_048;
const MAX_DESCRIPTION: usize = 1_000;
const MAX_TAG_VALUE: usize = 256;
const MAX_ROLE_NAME: usize = 64;

/// Everything a grant writes to IAM when it creates the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    pub role_name: String,
    pub trust_policy: String,
    /// The role template's policy, every Allow statement bounded by the expiry.
    pub inline_policy: String,
    pub description: String,
    pub tags: Vec<(&'static str, String)>,
}

/// Render every document of a grant, then [`check`] them. Nothing from the incident or the
/// person reaches a policy: the incident id and subject go only into tags and the description.
pub fn render(spec: &GrantSpec<'_>) -> Result<Documents, PolicyError> {
    let expires_at = timestamp(spec.expires_at);
    let documents = Documents {
        role_name: role_name(spec.binding_id),
        trust_policy: trust_policy(spec.principal_arn, spec.expires_at),
        inline_policy: with_expiry(spec.policy, spec.expires_at)?,
        description: description(&format!(
            "breakglass: {} on incident {} until {expires_at}",
            spec.subject, spec.incident
        )),
        tags: [
            (TAG_INCIDENT, spec.incident),
            (TAG_SUBJECT, spec.subject),
            (TAG_BINDING, spec.binding_id),
            (TAG_EXPIRES_AT, &expires_at),
            (TAG_ACCOUNT, spec.account),
        ]
        .into_iter()
        .map(|(key, value)| (key, tag_value(value)))
        .collect(),
    };
    check(&documents, spec)?;
    Ok(documents)
}

/// Read rendered documents back as IAM would and refuse them unless: the role name is this
/// binding's and fits IAM; the trust policy has exactly one statement, allowing exactly
/// `sts:AssumeRole` to exactly the responder's principal until no later than the expiry; the
/// inline policy bounds every Allow statement (under every spelling of `aws:CurrentTime`) by the
/// expiry; and the description and tags hold only what IAM accepts.
pub fn check(documents: &Documents, spec: &GrantSpec<'_>) -> Result<(), PolicyError> {
    let unsafe_doc =
        |document: &'static str, reason: String| PolicyError::Unsafe { document, reason };
    let name = &documents.role_name;
    if *name != role_name(spec.binding_id)
        || name.len() > MAX_ROLE_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err(unsafe_doc(
            "role name",
            "it is not `breakglass-<binding id>` in IAM's characters".into(),
        ));
    }
    check_trust(&documents.trust_policy, spec).map_err(|r| unsafe_doc("trust policy", r))?;
    check_inline(&documents.inline_policy, spec.expires_at)
        .map_err(|r| unsafe_doc("inline policy", r))?;
    if documents.description.chars().count() > MAX_DESCRIPTION
        || documents
            .description
            .chars()
            .any(|c| description_char(c) != c)
    {
        return Err(unsafe_doc(
            "description",
            "it is too long or holds characters IAM refuses".into(),
        ));
    }
    for (key, value) in &documents.tags {
        if value.chars().count() > MAX_TAG_VALUE || value.chars().any(|c| tag_char(c) != c) {
            return Err(unsafe_doc(
                "tags",
                format!("the value of `{key}` is too long or holds characters IAM refuses"),
            ));
        }
    }
    Ok(())
}

fn check_trust(text: &str, spec: &GrantSpec<'_>) -> Result<(), String> {
    if text.len() > MAX_TRUST_POLICY {
        return Err(format!("it is over IAM's {MAX_TRUST_POLICY} characters"));
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let statements = doc
        .get("Statement")
        .and_then(Value::as_array)
        .ok_or("no `Statement` list")?;
    let [statement] = &statements[..] else {
        return Err("it must have exactly one statement".into());
    };
    let expected_principal = json!({"AWS": spec.principal_arn});
    let fields_ok = statement.get("Effect") == Some(&json!("Allow"))
        && statement.get("Action") == Some(&json!("sts:AssumeRole"))
        && statement.get("Principal") == Some(&expected_principal)
        && statement.as_object().is_some_and(|s| s.len() == 4);
    if !fields_ok {
        return Err(
            "it must allow only `sts:AssumeRole`, only to the responder's principal".into(),
        );
    }
    if crate::config::is_permission_set_role(spec.principal_arn) {
        return Err("it admits an Identity Center permission set, not one person".into());
    }
    if bound_of(statement)?.is_none_or(|bound| bound > spec.expires_at) {
        return Err("it is not bounded by the grant's expiry".into());
    }
    Ok(())
}

fn check_inline(text: &str, expires_at: DateTime<Utc>) -> Result<(), String> {
    let size = text.chars().filter(|c| !c.is_whitespace()).count();
    if size > MAX_INLINE_POLICY {
        return Err(format!(
            "it is {size} characters, over IAM's {MAX_INLINE_POLICY}; shorten the role's policy"
        ));
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err("no `Statement`".into()),
    };
    for (index, statement) in statements.into_iter().enumerate() {
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => {}
            Some("Allow") => {
                if bound_of(statement)?.is_none_or(|bound| bound > expires_at) {
                    return Err(format!(
                        "Allow statement {index} is not bounded by the grant's expiry"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "statement {index} has no `Effect` of Allow or Deny"
                ))
            }
        }
    }
    Ok(())
}

/// The tightest `DateLessThan` bound on `aws:CurrentTime` of a statement, under every spelling
/// of the key; `Ok(None)` when there is none.
fn bound_of(statement: &Value) -> Result<Option<DateTime<Utc>>, String> {
    let Some(operator) = statement
        .get("Condition")
        .and_then(|c| c.get(DATE_LESS_THAN))
        .and_then(Value::as_object)
    else {
        return Ok(None);
    };
    let mut tightest: Option<DateTime<Utc>> = None;
    for (key, value) in operator {
        if key.eq_ignore_ascii_case(CURRENT_TIME) {
            let bound = latest_date(value).ok_or("an unreadable `aws:CurrentTime` bound")?;
            tightest = Some(tightest.map_or(bound, |t| t.min(bound)));
        }
    }
    Ok(tightest)
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
    // Condition keys are case-insensitive in IAM: `aws:currenttime` is the same key. Every
    // spelling present is folded into the one bound written back, the earliest of them all.
    let existing_keys: Vec<String> = operator
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(CURRENT_TIME))
        .cloned()
        .collect();
    let mut bound = expires_at;
    for key in existing_keys {
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
    raw.chars().map(tag_char).take(MAX_TAG_VALUE).collect()
}

fn tag_char(c: char) -> char {
    if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
        c
    } else {
        '_'
    }
}

/// A value IAM accepts as a role description: at most 1000 characters of printable Latin-1.
pub fn description(raw: &str) -> String {
    raw.chars()
        .map(description_char)
        .take(MAX_DESCRIPTION)
        .collect()
}

fn description_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' | ' '..='~' | '\u{a1}'..='\u{ff}' => c,
        _ => '?',
    }
}

#[cfg(test)]
mod tests;
