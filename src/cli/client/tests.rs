//! Error wording, URL handling and token checks of the CLI client, without a server.

use super::*;

fn url() -> String {
    "http://127.0.0.1:8080".into()
}

#[test]
fn a_contract_error_becomes_its_message_and_code() {
    let body = r#"{"error": {"code": "not_on_call", "message": "you are not on call for pagerduty:X;\nask the commander"}}"#;
    let e = refusal(url(), StatusCode::FORBIDDEN, None, body);
    assert_eq!(
        e.to_string(),
        "you are not on call for pagerduty:X; ask the commander (not_on_call)"
    );
}

#[test]
fn a_401_also_says_to_check_the_token() {
    let body =
        r#"{"error": {"code": "unauthenticated", "message": "the credentials are not valid"}}"#;
    let e = refusal(url(), StatusCode::UNAUTHORIZED, None, body);
    assert!(
        e.to_string()
            .starts_with("the credentials are not valid (unauthenticated); check your token"),
        "{e}"
    );
}

#[test]
fn an_answer_that_is_not_breakglass_json_names_the_http_status() {
    let e = refusal(url(), StatusCode::BAD_GATEWAY, None, "<html>nginx</html>");
    assert_eq!(
        e.to_string(),
        "http://127.0.0.1:8080 answered HTTP 502 Bad Gateway and no breakglass JSON; check that --server points at the breakglass service"
    );
    let moved = refusal(
        url(),
        StatusCode::MOVED_PERMANENTLY,
        Some("https://bg.example.com/".into()),
        "",
    );
    assert!(
        moved.to_string().contains("pass that address as --server"),
        "{moved}"
    );
}

#[test]
fn the_shown_url_never_carries_a_password() {
    let url = Url::parse("https://ops:hunter2@bg.example.com/").unwrap();
    assert_eq!(shown(&url), "https://ops@bg.example.com");
}

#[test]
fn paths_are_escaped_segments_under_the_base_path() {
    let args = ApiArgs {
        server: "https://example.com/breakglass/".into(),
        token: Some(breakglass::secret::Secret::new("t")),
        json: false,
    };
    let client = Client::new(&args).unwrap();
    assert_eq!(
        client.url(&["v1", "elevations", "../x?y"]).as_str(),
        "https://example.com/breakglass/v1/elevations/..%2Fx%3Fy"
    );
}

#[test]
fn a_missing_or_blank_token_and_a_bad_url_are_refused_before_any_request() {
    let args = |server: &str, token: Option<&str>| ApiArgs {
        server: server.into(),
        token: token.map(breakglass::secret::Secret::new),
        json: false,
    };
    let err = |a: ApiArgs| {
        Client::new(&a)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        err(args("http://127.0.0.1:8080", None)),
        "no API token: pass --token or set BREAKGLASS_TOKEN"
    );
    assert_eq!(
        err(args("http://127.0.0.1:8080", Some("  "))),
        CliError::NoToken.to_string()
    );
    assert!(err(args("http://127.0.0.1:8080", Some("a b"))).contains("control characters"));
    assert!(err(args("127.0.0.1:8080", Some("t"))).contains("not an http(s) URL"));
}
