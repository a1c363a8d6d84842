//! The checks only the parts that use a value can make, as start-up runs them: TOML in, the key
//! at fault out. The config's own checks are tested in `config/tests.rs`.

use super::*;

fn err(toml: &str) -> ConfigError {
    from_toml_str(toml).expect_err("config should be refused")
}

#[test]
fn the_demo_config_passes_every_check() {
    from_toml_str(include_str!("../../config/demo.toml")).unwrap();
}

/// The config alone accepts what only another part can judge; loading refuses it.
#[test]
fn the_parts_checks_run_after_the_configs_own() {
    let toml = "[redis]\nurl = \"redis+cluster://\"\n";
    Config::from_toml_str(toml).expect("the config cannot judge a Redis URL");
    assert_eq!(err(toml).key, "redis.url");
    let e = err("[server]\nbody_limit_bytes = 0\n[redis]\nurl = \"redis+cluster://\"\n");
    assert_eq!(e.key, "server.body_limit_bytes");
}

#[test]
fn a_redis_url_must_name_a_topology() {
    let password = "hunter2-redis-password";
    for (url, says) in [
        ("redis+cluster://u:PASSWORD@h:notaport", "Redis Cluster URL"),
        ("redis+sentinel://u:PASSWORD@h:26379", "Redis Sentinel URL"),
        ("http://u:PASSWORD@h:6379", "not a Redis URL"),
    ] {
        let url = url.replace("PASSWORD", password);
        let e = err(&format!("[redis]\nurl = \"{url}\"\n"));
        assert_eq!(e.key, "redis.url", "{url}");
        assert!(e.message.contains(says), "{e}");
        assert!(!e.to_string().contains(password), "the URL leaked: {e}");
    }
    for url in [
        "redis://h:6379/0",
        "rediss://u:p@h:6380",
        "redis+cluster://h1:7000,h2:7001",
        "redis+sentinel://s1:26379/main",
    ] {
        from_toml_str(&format!("[redis]\nurl = \"{url}\"\n")).expect(url);
    }
}

#[test]
fn the_same_tool_id_on_two_responders_is_refused() {
    let e = err("[[responders]]\nemail = \"a@example.com\"\npagerduty = \"P1\"\n[[responders]]\nemail = \"b@example.com\"\npagerduty = \"P1\"\n");
    assert_eq!(e.key, "responders[1].pagerduty");
}

/// Two entries that would match the same tool user, compared the way matching compares them
/// (trimmed, ignoring ASCII case, per field), stop start-up; the same value on different
/// fields does not collide.
#[test]
fn a_collision_in_the_directory_fails_start_up() {
    let two = |tool: &str, a: &str, b: &str| {
        format!(
            "[[responders]]\nemail = \"a@example.com\"\n{tool} = \"{a}\"\n\
             [[responders]]\nemail = \"b@example.com\"\n{tool} = \"{b}\"\n"
        )
    };
    for (tool, a, b) in [
        ("pagerduty", "PABC", " pabc "),
        ("opsgenie", "a@example.com", "A@EXAMPLE.COM"),
        (
            "grafana_incident",
            "grafana-incident:user-1",
            "GRAFANA-INCIDENT:USER-1",
        ),
        ("grafana_oncall", "alice", "username:ALICE"),
        (
            "grafana_oncall",
            "alice@example.com",
            "email: alice@example.com",
        ),
        ("grafana_oncall", "id:UABC", "ID:uabc"),
    ] {
        let e = err(&two(tool, a, b));
        assert_eq!(e.key, format!("responders[1].{tool}"), "{a} / {b}");
        assert!(e.message.contains("already belongs"), "{e}");
    }
    for (a, b) in [
        ("alice", "id:alice"),
        ("alice@example.com", "username:alice@example.com"),
    ] {
        from_toml_str(&two("grafana_oncall", a, b)).expect("different fields");
    }
    for empty in ["", "  ", "id:", "email: "] {
        let e = err(&format!(
            "[[responders]]\nemail = \"a@example.com\"\ngrafana_oncall = \"{empty}\"\n"
        ));
        assert_eq!(e.key, "responders[0].grafana_oncall");
    }
}

#[test]
fn a_malformed_role_policy_is_refused_at_start_up() {
    for policy in [
        "{",
        "{}",
        r#"{"Statement": []}"#,
        r#"{"Statement": [{"Effect": "Maybe"}]}"#,
    ] {
        let e = err(&format!(
            "[[roles]]\nname = \"r\"\nmax_duration = \"1h\"\npolicy = '{policy}'\n"
        ));
        assert_eq!(e.key, "roles[0].policy", "{policy}");
        assert!(e.message.contains("Statement"), "says how to fix it: {e}");
    }
    // A Condition that is not an object would fail every grant: refused at start-up.
    let e = err(
        "[[roles]]\nname = \"r\"\nmax_duration = \"1h\"\n\
         policy = '{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":[]}]}'\n",
    );
    assert_eq!(e.key, "roles[0].policy");
}

#[test]
fn redis_tls_files_need_a_rediss_url_and_come_as_a_pair() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let pem = pem.display();
    let password = "hunter2-redis-password";

    let e = err(&format!(
        "[redis]\nurl = \"redis://user:{password}@127.0.0.1:6379\"\ntls_ca_file = \"{pem}\"\n"
    ));
    assert_eq!(e.key, "redis.tls_ca_file");
    assert!(e.message.contains("rediss://"), "{e}");
    assert!(!e.to_string().contains(password), "the URL leaked: {e}");

    let e = err(&format!(
        "[redis]\nurl = \"rediss://127.0.0.1:6379\"\ntls_cert_file = \"{pem}\"\n"
    ));
    assert_eq!(e.key, "redis.tls_key_file");
    assert!(e.message.contains("tls_cert_file"), "{e}");
    let e = err(&format!(
        "[redis]\nurl = \"rediss://127.0.0.1:6379\"\ntls_key_file = \"{pem}\"\n"
    ));
    assert_eq!(e.key, "redis.tls_cert_file");

    let missing = dir.path().join("nope.pem");
    let e = err(&format!(
        "[redis]\nurl = \"rediss://u:{password}@127.0.0.1:6379\"\ntls_ca_file = \"{}\"\n",
        missing.display()
    ));
    assert_eq!(e.key, "redis.tls_ca_file");
    assert!(e.message.contains("nope.pem"), "{e}");
    assert!(!e.to_string().contains(password), "the URL leaked: {e}");
    let e = err(&format!(
        "[redis]\nurl = \"rediss://127.0.0.1:6379\"\ntls_cert_file = \"{pem}\"\ntls_key_file = \"{}\"\n",
        missing.display()
    ));
    assert_eq!(e.key, "redis.tls_key_file");

    let config = from_toml_str(&format!(
        "[redis]\nurl = \"rediss://u:{password}@127.0.0.1:6379\"\ntls_ca_file = \"{pem}\"\n\
         tls_cert_file = \"{pem}\"\ntls_key_file = \"{pem}\"\n"
    ))
    .unwrap();
    assert!(config.redis.has_tls_files());
    assert!(!from_toml_str("").unwrap().redis.has_tls_files());
}
