//! The operator commands' answers that need no Redis; the rest run against the real binary in
//! the integration tests (`cli`, `config_startup`, `audit_archive`, `audit_chain`).

use super::*;

/// A config file that passes every check, in a directory that lives as long as the test.
fn config_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakglass.toml");
    std::fs::write(&path, "[redis]\nurl = \"redis://127.0.0.1:1\"\n").unwrap();
    (dir, path)
}

#[test]
fn hash_token_prints_the_digest_and_never_the_token() {
    let mut out = Vec::new();
    hash_token(&mut &b"s3cret-token\r\n"[..], &mut out).unwrap();
    let printed = String::from_utf8(out).unwrap();
    assert_eq!(
        printed,
        format!("{}\n", crate::auth::token_digest_hex("s3cret-token"))
    );
    let failure = hash_token(&mut &b"\n"[..], &mut Vec::new()).unwrap_err();
    assert_eq!(failure.code, 1);
    assert!(failure.message.contains("printf %s"), "{}", failure.message);
}

#[test]
fn check_config_names_the_file_either_way() {
    let (_dir, path) = config_file();
    let mut out = Vec::new();
    check_config(&path, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{}: ok\n", path.display())
    );
    let missing = path.with_file_name("missing.toml");
    let failure = check_config(&missing, &mut Vec::new()).unwrap_err();
    assert_eq!(failure.code, 1);
    assert!(
        failure
            .message
            .starts_with(&format!("invalid config {}: ", missing.display())),
        "{}",
        failure.message
    );
}

#[test]
fn archive_refuses_a_time_it_cannot_read_before_touching_anything() {
    let (dir, path) = config_file();
    for before in ["yesterday", "1970-01-01T00:00:00Z"] {
        let failure = archive(&path, before, dir.path(), true, &mut Vec::new()).unwrap_err();
        assert_eq!(failure.code, 1);
        assert!(failure.message.contains("RFC 3339"), "{}", failure.message);
    }
}

#[test]
fn an_unreadable_archive_is_neither_intact_nor_broken() {
    let (dir, path) = config_file();
    let files = [dir.path().join("no-such-archive.ndjson")];
    let failure = verify_files(&path, &files, false, &mut Vec::new()).unwrap_err();
    assert_eq!(failure.code, 2);
    assert!(
        failure.message.starts_with("cannot read the archive: "),
        "{}",
        failure.message
    );
}
