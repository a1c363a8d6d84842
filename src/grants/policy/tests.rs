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
        account: "default",
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
    let big = json!({"Statement":[{"Effect":"Allow","Action":actions,"Resource":"*"}]}).to_string();
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

#[test]
fn a_trust_policy_for_an_identity_center_person_names_their_session_only() {
    let session =
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Responder_0a1b/alice@example.com";
    let s = GrantSpec {
        principal_arn: session,
        ..spec("pagerduty:PFQZPSY", "alice@example.com")
    };
    let out = render(&s).unwrap();
    let trust = parse(&out.trust_policy);
    assert_eq!(trust["Statement"][0]["Principal"], json!({"AWS": session}));
    // The permission-set role itself admits everyone who has the permission set: refused
    // before any IAM call, whichever way it is written.
    for whole_set in [
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-2/AWSReservedSSO_Responder_0a1b",
        "arn:aws:iam::111122223333:role/AWSReservedSSO_Responder_0a1b",
    ] {
        let s = GrantSpec {
            principal_arn: whole_set,
            ..spec("pagerduty:PFQZPSY", "alice@example.com")
        };
        assert!(
            matches!(render(&s), Err(PolicyError::Unsafe { document: "trust policy", .. })),
            "{whole_set}"
        );
    }
}

#[test]
fn a_trust_policy_may_be_as_long_as_iam_allows_and_no_longer() {
    let s = spec("pagerduty:PFQZPSY", "alice@example.com");
    let trust = trust_policy(PRINCIPAL, at(EXPIRY));
    let padded = |len: usize| format!("{trust}{}", " ".repeat(len - trust.len()));
    assert_eq!(check_trust(&padded(MAX_TRUST_POLICY), &s), Ok(()));
    let over = check_trust(&padded(MAX_TRUST_POLICY + 1), &s).unwrap_err();
    assert!(over.contains("over IAM's 2048 characters"), "{over}");
}
