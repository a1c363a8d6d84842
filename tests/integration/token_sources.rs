//! What Opsgenie and Grafana OnCall share: they sign nothing and send a static token, as
//! `Authorization: Bearer`, as the password of Basic auth, or in `X-Breakglass-Token`.

use base64::Engine as _;
use reqwest::StatusCode;

use crate::harness::*;

pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

pub fn basic(user: &str, password: &str) -> (&'static str, String) {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    ("authorization", format!("Basic {pair}"))
}

pub fn custom(token: &str) -> (&'static str, String) {
    ("x-breakglass-token", token.to_string())
}

/// Every wrong, missing or tampered token is refused with the same 401, and nothing is written.
/// `foreign` is another source's valid token.
pub async fn refuses_bad_tokens(source: &str, token: &str, foreign: &str, body: &[u8]) {
    let app = TestApp::start().await;
    let truncated = &token[..token.len() - 1];
    for headers in [
        vec![],
        vec![bearer("not-the-token")],
        vec![bearer(&format!("{token}x"))],
        vec![bearer(&token.to_uppercase())],
        vec![bearer(foreign)],
        vec![("authorization", token.to_string())],
        vec![("authorization", format!("Token {token}"))],
        vec![basic(source, "wrong")],
        vec![basic(token, "")],
        vec![("authorization", "Basic !!!".to_string())],
        vec![custom(truncated)],
        vec![custom("")],
    ] {
        let (status, answer) = app.webhook(source, body, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthenticated");
    }
    assert!(app.redis.keys("bgtest").is_empty());
}

/// With `<token>-next` configured beside `token`, both are accepted in any of the three places
/// and a retired `<token>-old` is not. `bodies` are four distinct events of one incident.
pub async fn accepts_every_configured_token(source: &str, token: &str, bodies: [Vec<u8>; 4]) {
    let redis = Redis::start();
    let toml = config_toml(&redis.url(), &Extra::default());
    let old = format!(r#"tokens = ["{token}"]"#);
    assert!(toml.contains(&old));
    let next = format!("{token}-next");
    let toml = toml.replace(&old, &format!(r#"tokens = ["{next}", "{token}"]"#));
    let app = breakglass::App::build(breakglass::Config::from_toml_str(&toml).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/webhooks/{source}", app.addr());
    let http = reqwest::Client::new();
    let (yes, no) = (StatusCode::ACCEPTED, StatusCode::UNAUTHORIZED);
    let [first, second, third, fourth] = bodies;
    for (body, (name, value), expected) in [
        (first, bearer(token), yes),
        (second, custom(&next), yes),
        (third, basic("x", &next), yes),
        (fourth, bearer(&format!("{token}-old")), no),
    ] {
        let res = http.post(&url).header(name, value).body(body).send().await;
        assert_eq!(res.unwrap().status(), expected, "{name}");
    }
    app.shutdown_handle().shutdown();
}
