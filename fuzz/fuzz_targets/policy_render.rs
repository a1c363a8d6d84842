//! The grant's IAM documents: the role template's policy with the expiry written in, the trust
//! policy, tags and description, rendered from hostile incident ids, emails and templates, then
//! checked as they would be before any IAM call.
//!
//! Properties: rendering never panics; what it returns passes the pre-IAM check; the incident
//! and the person never change a policy (only tags and the description); a refusal by the check
//! happens only for sizes IAM itself would refuse.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use breakglass::grants::policy::{self, PolicyError};
use breakglass::grants::GrantSpec;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    template: String,
    incident: String,
    subject: String,
    principal: String,
    binding: u64,
    /// Seconds from now to the expiry.
    lasts: u32,
}

fuzz_target!(|input: Input| {
    let binding_id = format!("{:016x}", input.binding);
    let spec = GrantSpec {
        binding_id: &binding_id,
        incident: &input.incident,
        // A catalogue name: validated at load, never the caller's.
        account: "prod",
        subject: &input.subject,
        principal_arn: &input.principal,
        policy: &input.template,
        managed_policies: &[],
        permissions_boundary: None,
        expires_at: common::now() + chrono::Duration::seconds(i64::from(input.lasts)),
    };
    match policy::render(&spec) {
        Ok(documents) => {
            assert_eq!(policy::check(&documents, &spec), Ok(()));
            let plain = GrantSpec {
                incident: "pagerduty:P1",
                subject: "alice@example.com",
                ..spec
            };
            let baseline = policy::render(&plain).expect("the same template renders");
            assert_eq!(documents.trust_policy, baseline.trust_policy);
            assert_eq!(documents.inline_policy, baseline.inline_policy);
            assert_eq!(documents.role_name, baseline.role_name);
        }
        Err(PolicyError::Unsafe { document, reason }) => match document {
            "inline policy" => assert!(reason.contains("over IAM's"), "{reason}"),
            "trust policy" => assert!(
                input.principal.len() > 1_800
                    || breakglass::config::is_permission_set_role(&input.principal),
                "{reason}"
            ),
            other => panic!("the {other} was rendered unsafe: {reason}"),
        },
        Err(_) => {}
    }
});
