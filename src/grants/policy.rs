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

use super::{GrantSpec, TAG_BINDING, TAG_EXPIRES_AT, TAG_INCIDENT, TAG_SUBJECT};

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

    const TEMPLATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}"#;
    const PRINCIPAL: &str = "arn:aws:iam::123456789012:user/alice";

    fn spec<'a>(incident: &'a str, subject: &'a str) -> GrantSpec<'a> {
        GrantSpec {
            binding_id: "abcdefgh12345678",
            incident,
            subject,
            principal_arn: PRINCIPAL,
            policy: TEMPLATE,
            managed_policies: &[],
            permissions_boundary: None,
            expires_at: at(EXPIRY),
        }
    }

    /// What incident tools and people can put into a grant: ids and emails. Quotes, braces,
    /// whole policy fragments, control characters, unicode look-alikes and sheer length.
    const HOSTILE: &[&str] = &[
        r#"pagerduty:P1"}],"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        r#"x","Principal":{"AWS":"*"},"y":""#,
        "grafana-incident:\"\\\u{0}\n\r\t{}[]<>&'",
        "opsgenie:\u{202e}lla\u{200b}\u{feff}ｓｔｓ：＊ 😀",
        "alice@example.com\",\"Action\":\"iam:*",
        "",
    ];

    #[test]
    fn incident_and_person_data_cannot_change_what_a_policy_says() {
        let baseline = render(&spec("pagerduty:PFQZPSY", "alice@example.com")).unwrap();
        let long = "ä\"}".repeat(5000);
        for hostile in HOSTILE.iter().copied().chain([long.as_str()]) {
            let out = render(&spec(hostile, hostile)).unwrap();
            assert_eq!(out.trust_policy, baseline.trust_policy, "{hostile:?}");
            assert_eq!(out.inline_policy, baseline.inline_policy, "{hostile:?}");
            assert_eq!(out.role_name, baseline.role_name);
            for (key, value) in &out.tags {
                assert!(value.chars().count() <= 256, "{key}");
                assert!(
                    !value.contains(['"', '{', '}', '\n', '\u{0}', '\u{202e}']),
                    "{value:?}"
                );
            }
            assert!(out.description.chars().count() <= 1000);
            assert!(out.description.chars().all(|c| c == description_char(c)));
        }
    }

    #[test]
    fn check_refuses_documents_that_do_not_say_exactly_what_they_should() {
        let s = spec("pagerduty:PFQZPSY", "alice@example.com");
        let good = render(&s).unwrap();
        let refused = |edit: &dyn Fn(&mut Documents)| {
            let mut docs = good.clone();
            edit(&mut docs);
            assert!(
                matches!(check(&docs, &s), Err(PolicyError::Unsafe { .. })),
                "{docs:?}"
            );
        };
        let later = "2030-01-02T03:04:06Z";
        refused(&|d| d.role_name = "breakglass-someoneelse12345".into());
        refused(&|d| d.trust_policy = d.trust_policy.replace(PRINCIPAL, "*"));
        refused(&|d| {
            d.trust_policy = d.trust_policy.replace(
                &format!("\"{PRINCIPAL}\""),
                &format!("[\"{PRINCIPAL}\",\"arn:aws:iam::210987654321:root\"]"),
            )
        });
        refused(&|d| d.trust_policy = d.trust_policy.replace(EXPIRY, later));
        refused(&|d| d.trust_policy = d.trust_policy.replace("sts:AssumeRole", "sts:*"));
        refused(&|d| {
            d.trust_policy = trust_policy(PRINCIPAL, at(EXPIRY)).replace(
                ",\"Condition\":{\"DateLessThan\":{\"aws:CurrentTime\":\"2030-01-02T03:04:05Z\"}}",
                "",
            )
        });
        refused(&|d| d.inline_policy = TEMPLATE.into());
        refused(&|d| d.inline_policy = d.inline_policy.replace(EXPIRY, later));
        refused(&|d| d.inline_policy = "not json".into());
        refused(&|d| d.tags[0].1 = "a\"b".into());
        refused(&|d| d.description = "✓".into());
        assert_eq!(check(&good, &s), Ok(()));
    }

    #[test]
    fn every_spelling_of_the_current_time_key_is_bounded() {
        let template = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"DateLessThan":{"aws:currenttime":"2031-01-01T00:00:00Z",
                                         "AWS:CurrentTime":"2032-01-01T00:00:00Z"}}}]}"#;
        let out = parse(&with_expiry(template, at(EXPIRY)).unwrap());
        assert_eq!(
            out["Statement"][0]["Condition"]["DateLessThan"],
            json!({"aws:CurrentTime": EXPIRY})
        );
    }

    #[test]
    fn a_policy_over_iams_size_limit_is_refused_before_iam() {
        let actions: Vec<String> = (0..800).map(|i| format!("s3:Action{i}")).collect();
        let big =
            json!({"Statement":[{"Effect":"Allow","Action":actions,"Resource":"*"}]}).to_string();
        let s = GrantSpec {
            policy: &big,
            ..spec("pagerduty:P1", "alice@example.com")
        };
        assert!(matches!(
            render(&s),
            Err(PolicyError::Unsafe {
                document: "inline policy",
                ..
            })
        ));
    }
}
