use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;
use BindingStatus::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).unwrap()
}

/// Every trigger, with deadlines just past, exactly now, and in the future.
fn triggers() -> Vec<Trigger> {
    let mut all = vec![
        Trigger::Approve,
        Trigger::Granted,
        Trigger::GrantFailed,
        Trigger::RoleRemoved,
        Trigger::RevokeFailed,
    ];
    all.extend(EndReason::ALL.into_iter().map(Trigger::Revoke));
    for at in [
        now() - Duration::seconds(1),
        now(),
        now() + Duration::seconds(1),
    ] {
        all.push(Trigger::ApprovalLapsed { deadline: at });
        all.push(Trigger::Expire { expires_at: at });
    }
    all
}

/// The table written out by hand, as the design states it: the oracle [`next`] is checked
/// against, pair by pair.
fn expected(from: BindingStatus, trigger: Trigger) -> Option<BindingStatus> {
    let due = |t: DateTime<Utc>| t <= now();
    match (from, trigger) {
        (PendingApproval, Trigger::Approve) => Some(Granting),
        (PendingApproval, Trigger::ApprovalLapsed { deadline }) if due(deadline) => Some(Revoked),
        (PendingApproval, Trigger::Revoke(_)) => Some(Revoking),
        (Granting, Trigger::Granted) => Some(Active),
        (Granting, Trigger::GrantFailed) => Some(Failed),
        (Granting, Trigger::Revoke(_)) => Some(Revoking),
        (Active, Trigger::Revoke(_)) => Some(Revoking),
        (Active, Trigger::Expire { expires_at }) if due(expires_at) => Some(Revoking),
        (Revoking, Trigger::RoleRemoved) => Some(Revoked),
        (Revoking, Trigger::RevokeFailed) => Some(Revoking),
        (Revoked, Trigger::RoleRemoved) => Some(Revoked),
        (Revoked, Trigger::RevokeFailed) => Some(Revoking),
        _ => None,
    }
}

#[test]
fn the_table_is_exactly_the_designed_one_for_every_status_and_trigger() {
    let mut allowed = 0;
    for from in BindingStatus::ALL {
        for trigger in triggers() {
            let got = next(from, trigger, now());
            match expected(from, trigger) {
                Some(to) => {
                    allowed += 1;
                    assert_eq!(got, Ok(to), "{from:?} on {trigger:?}");
                }
                None => assert_eq!(
                    got,
                    Err(Refused { from, trigger }),
                    "{from:?} on {trigger:?}"
                ),
            }
        }
    }
    // 7 reasons × 3 revocable statuses, 7 other pairs, and 2 deadlines due (past, now) × 2.
    assert_eq!(allowed, 21 + 7 + 2 * 2);
}

#[test]
fn a_deadline_is_due_at_its_instant_not_a_moment_before() {
    let at = now();
    let lapsed = Trigger::ApprovalLapsed { deadline: at };
    assert_eq!(next(PendingApproval, lapsed, at), Ok(Revoked));
    assert!(next(PendingApproval, lapsed, at - Duration::milliseconds(1)).is_err());
    let expire = Trigger::Expire { expires_at: at };
    assert_eq!(next(Active, expire, at), Ok(Revoking));
    assert!(next(Active, expire, at - Duration::milliseconds(1)).is_err());
}

#[test]
fn new_bindings_start_granting_or_pending() {
    assert_eq!(initial(false), Granting);
    assert_eq!(initial(true), PendingApproval);
}

#[test]
fn the_scripts_revoke_and_hold_exactly_the_live_statuses_short_of_revoking() {
    assert_eq!(revocable(), vec![PendingApproval, Granting, Active]);
    assert_eq!(
        revocation_json(),
        r#"{"from":["pending_approval","granting","active"],"to":"revoking"}"#
    );
}

fn binding(status: BindingStatus) -> Binding {
    let incident: crate::keyspace::IncidentId = "pagerduty:PFQZPSY".parse().unwrap();
    Binding {
        id: crate::keyspace::BindingId::new(&incident),
        incident,
        role: "prod-db-read".into(),
        account: "default".into(),
        subject: "alice@example.com".into(),
        principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
        status,
        reason: "outage".into(),
        duration_seconds: 600,
        approval: crate::bindings::Approval::Auto,
        requested_at: now(),
        approved_by: None,
        approved_at: None,
        approval_deadline: None,
        role_name: "breakglass-x".into(),
        role_arn: None,
        granted_at: None,
        expires_at: None,
        ended_at: None,
        end_reason: None,
        ended_by: None,
        attempts: 0,
        last_error: None,
    }
}

#[test]
fn apply_sets_the_status_the_reason_and_the_end_once() {
    let mut b = binding(Active);
    apply(&mut b, Trigger::Revoke(EndReason::RevokedByHolder), now()).unwrap();
    assert_eq!(
        (b.status, b.end_reason, b.ended_at),
        (Revoking, Some(EndReason::RevokedByHolder), None)
    );
    apply(&mut b, Trigger::RoleRemoved, now()).unwrap();
    assert_eq!(
        (b.status, b.end_reason),
        (Revoked, Some(EndReason::RevokedByHolder))
    );
    assert_eq!(b.ended_at, Some(now()));
    // A second removal (a role the grant made late) keeps the first end.
    apply(&mut b, Trigger::RoleRemoved, now() + Duration::seconds(5)).unwrap();
    assert_eq!(b.ended_at, Some(now()));

    let mut failed = binding(Granting);
    apply(&mut failed, Trigger::GrantFailed, now()).unwrap();
    assert_eq!(
        (failed.status, failed.end_reason),
        (Failed, Some(EndReason::GrantFailed))
    );
    assert_eq!(failed.ended_at, Some(now()));

    let mut expired = binding(Active);
    apply(&mut expired, Trigger::Expire { expires_at: now() }, now()).unwrap();
    assert_eq!(expired.end_reason, Some(EndReason::Expired));
    let mut lapsed = binding(PendingApproval);
    apply(
        &mut lapsed,
        Trigger::ApprovalLapsed { deadline: now() },
        now(),
    )
    .unwrap();
    assert_eq!(
        (lapsed.status, lapsed.end_reason),
        (Revoked, Some(EndReason::ApprovalExpired))
    );
    let mut approved = binding(PendingApproval);
    apply(&mut approved, Trigger::Approve, now()).unwrap();
    assert_eq!((approved.status, approved.end_reason), (Granting, None));
}

#[test]
fn a_refused_trigger_changes_nothing() {
    let mut b = binding(Revoking);
    let before = b.clone();
    assert!(apply(&mut b, Trigger::Granted, now()).is_err());
    assert!(apply(&mut b, Trigger::Revoke(EndReason::Expired), now()).is_err());
    assert_eq!(b, before);
}

#[test]
fn the_stored_status_fields_win_over_the_json() {
    let mut b = binding(Active);
    overlay(&mut b, Some(Revoking), Some(EndReason::IncidentResolved));
    assert_eq!(
        (b.status, b.end_reason),
        (Revoking, Some(EndReason::IncidentResolved))
    );
    overlay(&mut b, None, None);
    assert_eq!(
        (b.status, b.end_reason),
        (Revoking, Some(EndReason::IncidentResolved))
    );
}

fn any_trigger() -> impl Strategy<Value = Trigger> {
    let list = triggers();
    (0..list.len()).prop_map(move |i| list[i])
}

fn any_status() -> impl Strategy<Value = BindingStatus> {
    (0..BindingStatus::ALL.len()).prop_map(|i| BindingStatus::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Walk any sequence of triggers from any status: the invariants that keep access bounded
    /// hold on every path.
    #[test]
    fn no_path_returns_to_access_or_skips_the_revocation_steps(
        start in any_status(),
        steps in proptest::collection::vec(any_trigger(), 0..24),
    ) {
        let mut status = start;
        let mut was_revoking = status == Revoking;
        let mut may_hold_role = matches!(status, Granting | Active | Revoking);
        for trigger in steps {
            let Ok(to) = next(status, trigger, now()) else { continue };
            // Nothing reaches active once it was revoking.
            prop_assert!(!(was_revoking && to == Active), "{status:?} -> {to:?}");
            // A binding that may hold a role ends revoked only from revoking, by a removal.
            if to == Revoked && status != Revoked && may_hold_role {
                prop_assert_eq!((status, trigger), (Revoking, Trigger::RoleRemoved));
            }
            // Failed comes only from granting, whose rollback removed the role.
            if to == Failed {
                prop_assert_eq!((status, trigger), (Granting, Trigger::GrantFailed));
            }
            // Active only from granting, by a grant.
            if to == Active {
                prop_assert_eq!((status, trigger), (Granting, Trigger::Granted));
            }
            // Ended bindings stay ended, but for a late role going back to revoking.
            if !status.is_live() {
                prop_assert!(to == status || (status == Revoked && to == Revoking));
            }
            was_revoking |= to == Revoking;
            may_hold_role |= matches!(to, Granting | Active | Revoking);
            status = to;
        }
    }
}
