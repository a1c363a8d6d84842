use super::*;

fn err(toml: &str) -> ConfigError {
    Config::from_toml_str(toml).expect_err("config should be refused")
}

#[test]
fn the_demo_config_is_valid() {
    let config = Config::from_toml_str(include_str!("../../config/demo.toml")).unwrap();
    assert_eq!(config.redis.prefix, "bg-demo");
    assert!(config.sources.pagerduty.is_some());
    assert_eq!(config.responders.len(), 2);
}

#[test]
fn an_empty_config_takes_the_defaults() {
    let config = Config::from_toml_str("").unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.body_limit_bytes, 256 * 1024);
    assert_eq!(config.redis.prefix, "bg");
    assert_eq!(config.elevation.max_active_per_subject, 5);
    assert_eq!(
        config.revocation.reconcile_interval,
        ConfigDuration::secs(60)
    );
    assert_eq!(config.aws.role_path, "/breakglass/");
}

#[test]
fn an_unknown_key_is_named_with_its_path() {
    let e = err("[server]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n");
    assert_eq!(e.key, "server.listen_port");
    assert!(e.message.contains("unknown field"), "{e}");
    let e = err("[sources.pagerduty]\nsecrets = [\"x\"]\nsecret = \"y\"\n");
    assert_eq!(e.key, "sources.pagerduty.secret");
}

#[test]
fn a_missing_secret_variable_is_named_by_key_and_variable() {
    let e = err("[sources.pagerduty]\nsecrets = [{ env = \"BREAKGLASS_TEST_NOT_SET_9431\" }]\n");
    assert_eq!(e.key, "sources.pagerduty.secrets[0]");
    assert!(e.message.contains("BREAKGLASS_TEST_NOT_SET_9431"), "{e}");
}

#[test]
fn secrets_come_from_env_and_files() {
    std::env::set_var("BREAKGLASS_TEST_PD_SECRET_1", "from-env");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-file\n").unwrap();
    let config = Config::from_toml_str(&format!(
        "[sources.pagerduty]\nsecrets = [{{ env = \"BREAKGLASS_TEST_PD_SECRET_1\" }}]\n\
         [sources.opsgenie]\ntokens = [{{ file = \"{}\" }}, \"inline\"]\n",
        file.display()
    ))
    .unwrap();
    assert_eq!(
        config.sources.pagerduty.unwrap().secrets[0].expose(),
        "from-env"
    );
    let tokens = config.sources.opsgenie.unwrap().tokens;
    assert_eq!(tokens[0].expose(), "from-file");
    assert_eq!(tokens[1].expose(), "inline");
}

#[test]
fn each_source_takes_the_kind_of_secret_it_can_use() {
    assert_eq!(
        err("[sources.pagerduty]\n").key,
        "sources.pagerduty.secrets"
    );
    assert_eq!(
        err("[sources.opsgenie]\nsecrets = [\"x\"]\ntokens = [\"y\"]\n").key,
        "sources.opsgenie.secrets"
    );
    assert_eq!(
        err("[sources.grafana_oncall]\n").key,
        "sources.grafana_oncall.tokens"
    );
    assert_eq!(
        err("[sources.opsgenie]\ntokens = [\"\"]\n").key,
        "sources.opsgenie.tokens[0]"
    );
}

#[test]
fn duplicate_responders_and_bad_principals_are_refused() {
    let e = err(
        "[[responders]]\nemail = \"a@example.com\"\n[[responders]]\nemail = \"A@example.com\"\n",
    );
    assert_eq!(e.key, "responders[1].email");
    assert!(e.message.contains("duplicate"), "{e}");
    let e = err(
        "[[responders]]\nemail = \"a@example.com\"\naws_principal = \"arn:aws:iam::12:user/a\"\n",
    );
    assert_eq!(e.key, "responders[0].aws_principal");
}

#[test]
fn a_role_longer_than_thirty_days_is_refused() {
    let role = |d: &str| {
        format!("[[roles]]\nname = \"r\"\nmax_duration = \"{d}\"\npolicy = '{{\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"*\"}}]}}'\n")
    };
    assert_eq!(err(&role("31days")).key, "roles[0].max_duration");
    assert_eq!(err(&role("100000000years")).key, "roles[0].max_duration");
    Config::from_toml_str(&role("30days")).unwrap();
}

#[test]
fn api_tokens_must_be_sha256_digests() {
    let e = err("[[auth.tokens]]\nsha256 = \"plaintext-token\"\nsubject = \"a@example.com\"\n");
    assert_eq!(e.key, "auth.tokens[0].sha256");
}

#[test]
fn durations_read_like_people_write_them() {
    assert_eq!(
        ConfigDuration::parse("90s").unwrap(),
        ConfigDuration::secs(90)
    );
    assert_eq!(
        ConfigDuration::parse("30m").unwrap(),
        ConfigDuration::secs(1800)
    );
    assert_eq!(
        ConfigDuration::parse("1h").unwrap(),
        ConfigDuration::secs(3600)
    );
    assert_eq!(
        ConfigDuration::parse("120").unwrap(),
        ConfigDuration::secs(120)
    );
    assert!(ConfigDuration::parse("soon").is_err());
    let e = err("[revocation]\nreconcile_interval = \"often\"\n");
    assert_eq!(e.key, "revocation.reconcile_interval");
}

#[test]
fn the_reconcile_interval_is_at_least_a_second() {
    for short in ["0", "\"500ms\""] {
        let e = err(&format!("[revocation]\nreconcile_interval = {short}\n"));
        assert_eq!(e.key, "revocation.reconcile_interval", "{short}");
    }
    assert!(Config::from_toml_str("[revocation]\nreconcile_interval = \"1s\"\n").is_ok());
}

#[test]
fn roles_are_checked_for_name_approval_and_duration() {
    let role = |extra: &str| {
        format!(
            "[[roles]]\nname = \"r\"\nmax_duration = \"1h\"\n\
             policy = '{{\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"*\"}}]}}'\n{extra}"
        )
    };
    assert!(Config::from_toml_str(&role("")).is_ok());
    assert_eq!(
        err(&role("approval = \"manager\"\n")).key,
        "roles[0].approval"
    );
    assert_eq!(
        err(&format!("{}{}", role(""), role(""))).key,
        "roles[1].name"
    );
}

#[test]
fn syntax_errors_say_so() {
    let e = err("[server\nlisten = 1");
    assert_eq!(e.key, "(syntax)");
}

#[test]
fn allow_lists_take_addresses_and_cidrs() {
    let config = Config::from_toml_str(
        "[sources.opsgenie]\ntokens = [\"t\"]\nallow_ips = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n",
    )
    .unwrap();
    let allow = config.sources.opsgenie.unwrap().allow_ips.unwrap();
    assert!(allow[0].contains("10.1.2.3".parse().unwrap()));
    assert!(allow[1].contains("192.0.2.7".parse().unwrap()));
    assert!(!allow[1].contains("192.0.2.8".parse().unwrap()));
    assert_eq!(
        err("[sources.opsgenie]\ntokens = [\"t\"]\nallow_ips = [\"everyone\"]\n").key,
        "sources.opsgenie.allow_ips[0]"
    );
}

#[test]
fn policy_arns_and_the_role_path_are_checked() {
    let role = |extra: &str| {
        format!(
            "[[roles]]\nname = \"r\"\nmax_duration = \"1h\"\n\
             policy = '{{\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"*\"}}]}}'\n{extra}"
        )
    };
    assert!(Config::from_toml_str(&role(
        "managed_policies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\npermissions_boundary = \"arn:aws:iam::123456789012:policy/bg-boundary\""
    ))
    .is_ok());
    assert_eq!(
        err(&role("managed_policies = [\"ReadOnlyAccess\"]")).key,
        "roles[0].managed_policies[0]"
    );
    assert_eq!(
        err(&role(
            "permissions_boundary = \"arn:aws:iam::123:policy/x\""
        ))
        .key,
        "roles[0].permissions_boundary"
    );
    for path in ["breakglass", "/", "/bad path/"] {
        assert_eq!(
            err(&format!("[aws]\nrole_path = \"{path}\"\n")).key,
            "aws.role_path",
            "{path}"
        );
    }
    assert_eq!(
        err("[aws]\nendpoint_url = \"localhost:5000\"\n").key,
        "aws.endpoint_url"
    );
    assert_eq!(
        err("[elevation]\nrequests_per_minute = 10\n").key,
        "elevation.requests_per_minute"
    );
}

#[test]
fn role_conditions_and_pending_ttl_are_checked() {
    let role = |when: &str| {
        format!(
            "[[roles]]\nname = \"r\"\nmax_duration = \"1h\"\n\
             policy = '{{\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"*\"}}]}}'\n[roles.when]\n{when}"
        )
    };
    assert!(Config::from_toml_str(&role("sources = [\"grafana-oncall\", \"pagerduty\"]")).is_ok());
    assert_eq!(
        err(&role("sources = [\"grafana_oncall\"]")).key,
        "roles[0].when.sources[0]"
    );
    assert_eq!(
        err("[elevation]\npending_ttl = \"0s\"\n").key,
        "elevation.pending_ttl"
    );
}

#[test]
fn the_revocation_worker_settings_are_bounded() {
    let config = Config::from_toml_str("").unwrap();
    assert_eq!(config.revocation.lease, ConfigDuration::secs(30));
    assert_eq!(config.revocation.concurrency, 64);
    assert_eq!(
        err("[revocation]\nlease = \"0s\"\n").key,
        "revocation.lease"
    );
    assert_eq!(
        err("[revocation]\nconcurrency = 0\n").key,
        "revocation.concurrency"
    );
}
