//! Grafana OnCall: the shared-token check (Bearer, Basic with the token as password, or
//! `X-Breakglass-Token`) on raw headers, then the outgoing-webhook payload parser.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use breakglass::incidents::Source;
use breakglass::webhooks::grafana_oncall;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: common::TokenWebhook| {
    common::token_webhook(input, Source::GrafanaOncall, |body| {
        let _ = grafana_oncall::normalize_at(body, common::now());
    });
});
