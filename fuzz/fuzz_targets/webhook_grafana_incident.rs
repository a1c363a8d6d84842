//! Grafana Incident: the `GI-Signature` check (timestamp within tolerance, HMAC over the body's
//! digest and the timestamp) on raw bytes, then the payload parser.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use arbitrary::Arbitrary;
use base64::Engine as _;
use breakglass::incidents::Source;
use breakglass::secret::Secret;
use breakglass::webhooks::auth::Verifier;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const SECRET: &str = "fuzz-grafana-incident-secret";
const TOLERANCE: u64 = 300;

#[derive(Debug, Arbitrary)]
struct Input {
    sign: bool,
    /// Seconds between the signed timestamp and now.
    offset: i32,
    signature: Vec<u8>,
    observers: bool,
    extra: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let verifier = Verifier::GrafanaIncident {
        secrets: vec![Secret::new(SECRET)],
        tolerance: Duration::from_secs(TOLERANCE),
    };
    let t = common::now().timestamp() + i64::from(input.offset);
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&input.body));
    let genuine = common::hmac_hex(
        SECRET,
        &[digest.as_bytes(), b":", t.to_string().as_bytes(), b":v1"],
    );
    let mut value = Vec::new();
    if input.sign {
        value.extend_from_slice(format!("t={t},v1={genuine},").as_bytes());
    }
    value.extend_from_slice(&input.signature);
    let mut headers = common::headers(&input.extra);
    headers.remove("gi-signature");
    common::insert(&mut headers, "gi-signature", &value);
    let body = Bytes::from(input.body);
    match verifier.verify(
        Source::GrafanaIncident,
        headers,
        body.clone(),
        common::now(),
    ) {
        Ok(webhook) => {
            // Forging an HMAC is out of the fuzzer's reach: only the signed form gets in, and
            // only within the tolerance.
            assert!(input.sign, "accepted without the genuine signature");
            assert!(
                u64::from(input.offset.unsigned_abs()) <= TOLERANCE,
                "accepted a stale timestamp"
            );
            common::normalize(&webhook, input.observers);
        }
        Err(_) => {
            let options = breakglass::webhooks::NormalizeOptions {
                observers_are_responders: input.observers,
            };
            let _ = breakglass::webhooks::grafana_incident::normalize(&body, &options);
        }
    }
});
