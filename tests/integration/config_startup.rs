//! Start-up through the real binary: a bad config fails with one line naming the key and the fix.

use std::process::Command;

fn breakglass() -> Command {
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn a_bad_config_fails_start_up_with_one_message_naming_the_key() {
    for (text, key) in [
        ("[server]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n", "server.bogus"),
        ("[sources.pagerduty]\nsecrets = [{ env = \"BREAKGLASS_IT_UNSET_VAR\" }]\n", "sources.pagerduty.secrets[0]"),
        (
            "[[responders]]\nemail = \"a@example.com\"\naws_principal = \"arn:aws:iam::1:user/a\"\n",
            "responders[0].aws_principal",
        ),
        (
            "[[responders]]\nemail = \"a@example.com\"\n[[responders]]\nemail = \"a@example.com\"\n",
            "responders[1].email",
        ),
    ] {
        let file = write_config(text);
        let out = breakglass()
            .args(["serve", "--config"])
            .arg(file.path())
            .env_remove("BREAKGLASS_REDIS_URL")
            .output()
            .unwrap();
        assert!(!out.status.success(), "started with a bad config: {text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one message, got: {stderr}");
        assert!(lines[0].contains(&format!("`{key}`")), "names {key}: {stderr}");
    }
}

#[test]
fn a_missing_config_file_says_how_to_pass_one() {
    let out = breakglass()
        .args(["serve", "--config", "/nonexistent/breakglass.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

#[test]
fn check_config_accepts_the_demo_config() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml");
    let out = breakglass()
        .args(["check-config", "--config", demo])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hash_token_prints_the_digest_for_the_config() {
    use std::io::Write;
    let mut child = breakglass()
        .arg("hash-token")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"demo-alice-token\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "4348e292502354682288b2cc8d9c5c6e57e1593e045026b7e59c1222cd248974"
    );
}

#[test]
fn check_config_reads_the_jwks_file_as_serve_would() {
    let file = write_config(
        "[auth.oidc]\nissuer = \"https://idp.example.com\"\naudience = \"breakglass\"\njwks_file = \"/nonexistent/jwks.json\"\n",
    );
    let out = breakglass()
        .args(["check-config", "--config"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "check-config accepted a missing JWKS file"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth.oidc.jwks_file"));
}
