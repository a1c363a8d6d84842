//! PagerDuty: the `X-PagerDuty-Signature` check on raw bytes, then the V3 payload parser.
//! A request is accepted only with the genuine HMAC of its body; nothing panics.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use breakglass::incidents::Source;
use breakglass::secret::Secret;
use breakglass::webhooks::auth::Verifier;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-pagerduty-secret";

#[derive(Debug, Arbitrary)]
struct Input {
    /// Put the genuine signature first in the header, before `signature`.
    sign: bool,
    signature: Vec<u8>,
    extra: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let verifier = Verifier::PagerDuty {
        secrets: vec![Secret::new("an-old-secret"), Secret::new(SECRET)],
    };
    let genuine = common::hmac_hex(SECRET, &[&input.body]);
    let mut value = Vec::new();
    if input.sign {
        value.extend_from_slice(format!("v1={genuine},").as_bytes());
    }
    value.extend_from_slice(&input.signature);
    let mut headers = common::headers(&input.extra);
    headers.remove("x-pagerduty-signature");
    common::insert(&mut headers, "x-pagerduty-signature", &value);
    // A header HTTP carries but that is not visible ASCII is refused as malformed, whatever it
    // holds; the genuine signature must get through in every other header.
    let readable = http::HeaderValue::from_bytes(&value).is_ok_and(|v| v.to_str().is_ok());
    let body = Bytes::from(input.body);
    match verifier.verify(
        Source::Pagerduty,
        headers.clone(),
        body.clone(),
        common::now(),
    ) {
        Ok(webhook) => {
            let text = String::from_utf8_lossy(&value).to_ascii_lowercase();
            assert!(text.contains(&genuine), "accepted without the body's HMAC");
            common::normalize(&webhook, false);
        }
        Err(_) => {
            assert!(
                !(input.sign && readable),
                "the genuine signature was refused"
            );
            let _ = breakglass::webhooks::pagerduty::normalize(&body, &headers);
        }
    }
});
