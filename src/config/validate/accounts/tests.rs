use crate::config::{Config, ConfigError};

const PROD: &str = r#"
[[aws.accounts]]
name = "prod"
id = "111111111111"
granter_role_arn = "arn:aws:iam::111111111111:role/breakglass-granter"
external_id = "bg-prod-4f1c"
"#;

const ROLE: &str = r#"
[[roles]]
name = "db-read"
max_duration = "1h"
policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}'
"#;

fn err(toml: &str) -> ConfigError {
    Config::from_toml_str(toml).expect_err("config should be refused")
}

fn account(fields: &str) -> String {
    format!("[[aws.accounts]]\n{fields}\n")
}

#[test]
fn a_catalogue_of_accounts_and_roles_that_name_them_loads() {
    let toml = format!(
        "{PROD}{}{ROLE}accounts = [\"prod\", \"home\"]\nmanaged_policies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n",
        account("name = \"home\"\nid = \"222222222222\"")
    );
    let config = Config::from_toml_str(&toml).unwrap();
    assert_eq!(config.aws.accounts.len(), 2);
    assert_eq!(
        config.aws.accounts[0]
            .external_id
            .as_ref()
            .unwrap()
            .expose(),
        "bg-prod-4f1c"
    );
    assert_eq!(
        config.roles[0].accounts.as_deref().unwrap(),
        ["prod", "home"]
    );
    // `default` always names the service's own account.
    Config::from_toml_str(&format!("{PROD}{ROLE}accounts = [\"default\", \"prod\"]\n")).unwrap();
}

#[test]
fn names_and_ids_are_checked_and_unique() {
    for (fields, key, says) in [
        (
            "name = \"Prod\"\nid = \"111111111111\"",
            "aws.accounts[1].name",
            "lowercase",
        ),
        (
            "name = \"\"\nid = \"111111111111\"",
            "aws.accounts[1].name",
            "lowercase",
        ),
        (
            &format!("name = \"{}\"\nid = \"111111111111\"", "a".repeat(33)),
            "aws.accounts[1].name",
            "32",
        ),
        (
            "name = \"prod\"\nid = \"333333333333\"",
            "aws.accounts[1].name",
            "twice",
        ),
        (
            "name = \"other\"\nid = \"11111111111\"",
            "aws.accounts[1].id",
            "12-digit",
        ),
        (
            "name = \"other\"\nid = \"11111111111x\"",
            "aws.accounts[1].id",
            "12-digit",
        ),
        (
            "name = \"other\"\nid = \"111111111111\"",
            "aws.accounts[1].id",
            "twice",
        ),
    ] {
        let e = err(&format!("{PROD}{}", account(fields)));
        assert_eq!(e.key, key, "{fields}: {e}");
        assert!(e.message.contains(says), "{fields}: {e}");
    }
    Config::from_toml_str(&format!(
        "{PROD}{}",
        account(&format!(
            "name = \"{}\"\nid = \"333333333333\"",
            "a-_9".repeat(8)
        ))
    ))
    .unwrap();
}

#[test]
fn the_granter_role_lives_in_its_account_and_only_one_account_has_none() {
    let e = err(&account(
        "name = \"prod\"\nid = \"111111111111\"\ngranter_role_arn = \"arn:aws:iam::999999999999:role/g\"",
    ));
    assert_eq!(e.key, "aws.accounts[0].granter_role_arn");
    assert!(e.message.contains("names account 999999999999"), "{e}");
    for arn in [
        "arn:aws:iam::111111111111:user/g",
        "arn:aws:s3::111111111111:role/g",
        "not an arn",
        "arn:aws:iam:us-east-1:111111111111:role/g",
    ] {
        let e = err(&account(&format!(
            "name = \"prod\"\nid = \"111111111111\"\ngranter_role_arn = \"{arn}\""
        )));
        assert_eq!(e.key, "aws.accounts[0].granter_role_arn", "{arn}");
        assert!(e.message.contains("must be a role ARN"), "{arn}: {e}");
    }
    let two_own = format!(
        "{}{}",
        account("name = \"a\"\nid = \"111111111111\""),
        account("name = \"b\"\nid = \"222222222222\"")
    );
    let e = err(&two_own);
    assert_eq!(e.key, "aws.accounts[1].granter_role_arn");
    assert!(
        e.message
            .contains("`a` is already the service's own account"),
        "{e}"
    );
    let e = err(&account(
        "name = \"default\"\nid = \"111111111111\"\ngranter_role_arn = \"arn:aws:iam::111111111111:role/g\"",
    ));
    assert_eq!(e.key, "aws.accounts[0].name");
    // The service's own account may be called `default` itself.
    Config::from_toml_str(&account("name = \"default\"\nid = \"111111111111\"")).unwrap();
}

#[test]
fn external_ids_paths_boundaries_and_sessions_are_checked() {
    let granter = "name = \"prod\"\nid = \"111111111111\"\ngranter_role_arn = \"arn:aws:iam::111111111111:role/g\"";
    for (extra, key, says) in [
        ("external_id = \"x\"", "external_id", "2 to 1224"),
        ("external_id = \"has space\"", "external_id", "2 to 1224"),
        (
            &format!("external_id = \"{}\"", "x".repeat(1225)),
            "external_id",
            "2 to 1224",
        ),
        ("role_path = \"/\"", "role_path", "IAM path"),
        ("role_path = \"breakglass/\"", "role_path", "IAM path"),
        (
            "permissions_boundary = \"arn:aws:iam::222222222222:policy/b\"",
            "permissions_boundary",
            "account 111111111111",
        ),
        (
            "permissions_boundary = \"arn:aws:iam::111111111111:role/b\"",
            "permissions_boundary",
            "account 111111111111",
        ),
        (
            "granter_session = \"14m\"",
            "granter_session",
            "15m and 12h",
        ),
        (
            "granter_session = \"13h\"",
            "granter_session",
            "15m and 12h",
        ),
    ] {
        let e = err(&account(&format!("{granter}\n{extra}")));
        assert_eq!(e.key, format!("aws.accounts[0].{key}"), "{extra}: {e}");
        assert!(e.message.contains(says), "{extra}: {e}");
    }
    let ok = "external_id = \"a+=,.@:/_-Z9\"\nrole_path = \"/bg/\"\npermissions_boundary = \"arn:aws:iam::111111111111:policy/b\"\ngranter_session = \"15m\"";
    Config::from_toml_str(&account(&format!("{granter}\n{ok}"))).unwrap();
    Config::from_toml_str(&account(&format!("{granter}\ngranter_session = \"12h\"\npermissions_boundary = \"arn:aws:iam::aws:policy/PowerUserAccess\""))).unwrap();
    // Against a local emulator a granter session may be short (tests of its renewal).
    let e = err(&account(&format!("{granter}\ngranter_session = \"10s\"")));
    assert_eq!(e.key, "aws.accounts[0].granter_session");
    Config::from_toml_str(&format!(
        "[aws]\nendpoint_url = \"http://127.0.0.1:5000\"\n{}",
        account(&format!("{granter}\ngranter_session = \"10s\""))
    ))
    .unwrap();
    let e = err(&format!(
        "[aws]\nendpoint_url = \"http://127.0.0.1:5000\"\n{}",
        account(&format!("{granter}\ngranter_session = \"9s\""))
    ));
    assert_eq!(e.key, "aws.accounts[0].granter_session");
    // What only a granter role uses is refused on the service's own account.
    for extra in ["external_id = \"abcdef\"", "granter_session = \"1h\""] {
        let e = err(&account(&format!(
            "name = \"home\"\nid = \"111111111111\"\n{extra}"
        )));
        assert!(e.message.contains("this account has none"), "{extra}: {e}");
    }
}

#[test]
fn a_role_names_known_accounts_once_and_attaches_only_what_exists_there() {
    for (accounts, says) in [
        ("[]", "at least one account"),
        ("[\"prod\", \"prod\"]", "listed twice"),
        ("[\"staging\"]", "`staging` is not in [[aws.accounts]]"),
    ] {
        let e = err(&format!("{PROD}{ROLE}accounts = {accounts}\n"));
        assert_eq!(e.key, "roles[0].accounts", "{accounts}");
        assert!(e.message.contains(says), "{accounts}: {e}");
    }
    let e = err(&format!(
        "{PROD}{ROLE}accounts = [\"prod\"]\nmanaged_policies = [\"arn:aws:iam::222222222222:policy/p\"]\n"
    ));
    assert_eq!(e.key, "roles[0]");
    assert!(
        e.message.contains("not in account `prod` (111111111111)"),
        "{e}"
    );
    let e = err(&format!(
        "{PROD}{ROLE}accounts = [\"prod\"]\npermissions_boundary = \"arn:aws:iam::222222222222:policy/b\"\n"
    ));
    assert_eq!(e.key, "roles[0]");
    Config::from_toml_str(&format!(
        "{PROD}{ROLE}accounts = [\"prod\"]\nmanaged_policies = [\"arn:aws:iam::111111111111:policy/p\"]\npermissions_boundary = \"arn:aws:iam::aws:policy/PowerUserAccess\"\n"
    ))
    .unwrap();
}
