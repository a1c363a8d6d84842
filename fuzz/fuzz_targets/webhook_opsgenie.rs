//! Opsgenie: the shared-token check (Bearer, Basic with the token as password, or
//! `X-Breakglass-Token`) on raw headers, then the alert payload parser.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use breakglass::incidents::Source;
use breakglass::webhooks::opsgenie;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: common::TokenWebhook| {
    common::token_webhook(input, Source::Opsgenie, |body| {
        let _ = opsgenie::normalize(body);
    });
});
