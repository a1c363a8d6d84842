//! The fixed trail: every event of the incident, in order, and the review built from it.

use super::scene::*;

use serde_json::json;

use crate::bindings::events::{
    ApprovalExpired, Change, GrantFailed, Granted, RevokeFailed, Revoked, Revoking,
};
use crate::bindings::{Approval, BindingStatus as S, EndReason};
use crate::elevation::events::{ApprovalRefused, Approved, Denied, Requested};
use crate::grants::Revoked as IamRevoked;
use crate::incidents::events::RespondersChanged;
use crate::incidents::Status;
use crate::revocation::events::{Requeued, RoleRemoved};

pub(super) fn trail() -> Vec<Recorded> {
    use Status::{Acknowledged, Open, Resolved};
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DescribeDBInstances","logs:GetLogEvents"],"Resource":"*"}]}"#;
    let revoking = |binding, reason| Revoking {
        change: Change {
            reason: Some(reason),
            ..change(binding, S::Active, S::Revoking)
        },
    };
    let revoked = |binding, reason, iam| Revoked {
        change: Change {
            reason: Some(reason),
            ..change(binding, S::Revoking, S::Revoked)
        },
        iam,
    };
    vec![
        rec(
            t(9, 0, 1, 250),
            "pagerduty",
            "",
            applied(
                "incident.triggered",
                t(9, 0, 0, 0),
                t(9, 0, 1, 250),
                (None, Open),
                false,
            ),
        ),
        rec(
            t(9, 0, 1, 250),
            "pagerduty",
            "",
            changed(None, Open, "incident.triggered", t(9, 0, 0, 0)),
        ),
        rec(
            t(9, 2, 30, 0),
            "pagerduty",
            "",
            RespondersChanged {
                added: vec!["bob@example.com".into(), "erin@example.com".into()],
                removed: vec!["dave@example.com".into()],
                kind: "incident.responder.added".into(),
                occurred_at: t(9, 2, 29, 0),
            },
        ),
        rec(
            t(9, 3, 0, 0),
            "mallory@example.com",
            "",
            Denied {
                role: "prod-admin".into(),
                rule: "not_on_call".into(),
                message: "mallory@example.com is not a responder of <pagerduty:Q2K7PXM>".into(),
                duration: json!("30m"),
                reason: Some("need \"root\" & more".into()),
                account: None,
            },
        ),
        rec(
            t(9, 4, 12, 900),
            "pagerduty",
            "",
            applied(
                "incident.acknowledged",
                t(9, 4, 12, 0),
                t(9, 4, 12, 900),
                (Some(Open), Acknowledged),
                false,
            ),
        ),
        rec(
            t(9, 4, 12, 900),
            "pagerduty",
            "",
            changed(
                Some(Open),
                Acknowledged,
                "incident.acknowledged",
                t(9, 4, 12, 0),
            ),
        ),
        rec(
            t(9, 5, 0, 0),
            "pagerduty",
            "",
            applied(
                "incident.priority_updated",
                t(9, 3, 0, 0),
                t(9, 5, 0, 0),
                (Some(Acknowledged), Acknowledged),
                true,
            ),
        ),
        rec(
            t(9, 6, 0, 0),
            "alice@example.com",
            AUTO,
            Requested {
                duration_seconds: 7200,
                reason: "=cmd|' /C calc'!A0".into(),
                ..requested(AUTO, "alice@example.com", "prod-readonly", Approval::Auto)
            },
        ),
        rec(
            t(9, 6, 3, 200),
            "alice@example.com",
            AUTO,
            Granted {
                policy: policy.into(),
                managed_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                permissions_boundary: Some(
                    "arn:aws:iam::111122223333:policy/breakglass-boundary".into(),
                ),
                ..granted(AUTO, t(11, 6, 3, 200))
            },
        ),
        rec(
            t(9, 20, 0, 0),
            "bob@example.com",
            PEER,
            Requested {
                reason: "Failover | replica lag on orders-db".into(),
                ..requested(PEER, "bob@example.com", "prod-db-admin", Approval::Peer)
            },
        ),
        rec(
            t(9, 21, 10, 0),
            "bob@example.com",
            PEER,
            ApprovalRefused {
                binding: id(PEER),
                rule: "self_approval".into(),
                message: "you cannot approve your own request".into(),
            },
        ),
        rec(
            t(9, 24, 0, 0),
            "carol@example.com",
            PEER,
            Approved {
                binding: id(PEER),
                from: S::PendingApproval,
                status: S::Granting,
                approved_by: "carol@example.com".into(),
                subject: "bob@example.com".into(),
                expires_at: Some(t(10, 24, 5, 0)),
            },
        ),
        rec(
            t(9, 24, 5, 0),
            "carol@example.com",
            PEER,
            Granted {
                policy: "not json ``` } trailing".into(),
                ..granted(PEER, t(10, 24, 5, 0))
            },
        ),
        rec(
            t(9, 30, 0, 0),
            "erin@example.com",
            EXPIRED,
            Requested {
                reason: "Need to restart the payment workers".into(),
                ..requested(EXPIRED, "erin@example.com", "prod-admin", Approval::Peer)
            },
        ),
        rec(
            t(9, 40, 0, 0),
            "alice@example.com",
            FAILED,
            Requested {
                reason: "Restore the price list & the \"EU\" catalogue".into(),
                ..requested(FAILED, "alice@example.com", "prod-s3-write", Approval::Auto)
            },
        ),
        rec(
            t(9, 40, 2, 500),
            "alice@example.com",
            FAILED,
            GrantFailed {
                change: Change {
                    reason: Some(EndReason::GrantFailed),
                    error: Some("AccessDenied: not authorized to perform iam:CreateRole".into()),
                    ..change(FAILED, S::Granting, S::Failed)
                },
            },
        ),
        rec(
            t(9, 45, 0, 0),
            "breakglass:scheduler",
            EXPIRED,
            ApprovalExpired {
                change: Change {
                    reason: Some(EndReason::ApprovalExpired),
                    ..change(EXPIRED, S::PendingApproval, S::Revoked)
                },
            },
        ),
        rec(
            t(9, 50, 0, 0),
            "alice@example.com",
            HOLDER,
            Requested {
                reason: "Read the checkout logs".into(),
                ..requested(
                    HOLDER,
                    "alice@example.com",
                    "prod-logs-read",
                    Approval::Auto,
                )
            },
        ),
        rec(
            t(9, 50, 1, 0),
            "alice@example.com",
            HOLDER,
            granted(HOLDER, t(10, 50, 1, 0)),
        ),
        rec(
            t(10, 0, 0, 0),
            "alice@example.com",
            HOLDER,
            Revoking {
                change: Change {
                    by: Some("alice@example.com".into()),
                    ..revoking(HOLDER, EndReason::RevokedByHolder).change
                },
            },
        ),
        rec(
            t(10, 5, 0, 0),
            "breakglass:reconciler",
            HOLDER,
            Requeued {
                binding: id(HOLDER),
                why: "revoking but absent from the schedule".into(),
            },
        ),
        // A removal recorded without IAM's steps.
        rec(
            t(10, 5, 2, 0),
            "breakglass:scheduler",
            HOLDER,
            revoked(HOLDER, EndReason::RevokedByHolder, None),
        ),
        rec(
            t(10, 24, 5, 300),
            "breakglass:scheduler",
            PEER,
            revoking(PEER, EndReason::Expired),
        ),
        rec(
            t(10, 24, 9, 0),
            "breakglass:scheduler",
            PEER,
            revoked(
                PEER,
                EndReason::Expired,
                Some(IamRevoked {
                    already_gone: true,
                    ..iam(None, None)
                }),
            ),
        ),
        rec(
            t(10, 31, 45, 600),
            "pagerduty",
            "",
            applied(
                "incident.resolved",
                t(10, 31, 45, 0),
                t(10, 31, 45, 600),
                (Some(Acknowledged), Resolved),
                false,
            ),
        ),
        rec(
            t(10, 31, 45, 600),
            "pagerduty",
            "",
            changed(
                Some(Acknowledged),
                Resolved,
                "incident.resolved",
                t(10, 31, 45, 0),
            ),
        ),
        rec(
            t(10, 31, 46, 100),
            "pagerduty",
            AUTO,
            revoking(AUTO, EndReason::IncidentResolved),
        ),
        rec(
            t(10, 31, 47, 0),
            "breakglass:scheduler",
            AUTO,
            RevokeFailed {
                change: Change {
                    attempts: 1,
                    error: Some("Throttling: Rate exceeded".into()),
                    ..revoking(AUTO, EndReason::IncidentResolved).change
                },
                retry_in_ms: Some(500),
            },
        ),
        rec(
            t(10, 31, 52, 500),
            "breakglass:scheduler",
            AUTO,
            revoked(
                AUTO,
                EndReason::IncidentResolved,
                Some(IamRevoked {
                    inline_policies_deleted: vec!["breakglass-grant".into()],
                    managed_policies_detached: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                    ..iam(Some(t(10, 31, 46, 400)), Some(t(10, 31, 52, 500)))
                }),
            ),
        ),
        // A type the review has no words for.
        Recorded {
            at: t(10, 35, 0, 0),
            kind: "audit.note",
            actor: "carol@example.com",
            source: "api",
            binding: "",
            data: json!({"note": "post-mortem <scheduled> & owners \"set\""}),
        },
        rec(
            t(10, 40, 0, 0),
            "breakglass:reconciler",
            "",
            RoleRemoved {
                role_name: "breakglass-3oldorphan22222".into(),
                account: "default".into(),
                reason: "no_binding".into(),
                tags: [("breakglass:incident".to_owned(), INCIDENT.to_owned())].into(),
                binding_status: None,
                iam: iam(Some(t(10, 39, 59, 0)), Some(t(10, 40, 0, 0))),
            },
        ),
    ]
}
