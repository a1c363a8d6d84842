//! Grafana OnCall: the shared-token check (Bearer, Basic with the token as password, or
//! `X-Breakglass-Token`) on raw headers, then the outgoing-webhook payload parser.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use breakglass::incidents::Source;
use breakglass::webhooks::auth::Verifier;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    token: common::TokenInput,
    extra: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let verifier = Verifier::tokens(&common::tokens());
    let (headers, presented) = input.token.headers(&input.extra);
    let body = Bytes::from(input.body);
    match verifier.verify(
        Source::GrafanaOncall,
        headers.clone(),
        body.clone(),
        common::now(),
    ) {
        Ok(webhook) => {
            assert!(presented, "accepted without the token");
            common::normalize(&webhook, false);
        }
        Err(_) => {
            assert!(!presented, "the token was refused");
            let _ = breakglass::webhooks::grafana_oncall::normalize_at(&body, common::now());
        }
    }
});
