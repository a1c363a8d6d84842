//! The responder CLI's wording and alignment, against fixed times.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;

fn now() -> DateTime<Utc> {
    "2026-05-01T03:12:00Z".parse().unwrap()
}

fn binding(status: &str) -> BindingView {
    serde_json::from_value(json!({
        "id": "3kq7zb2xw5m4npta",
        "status": status,
        "incident": "pagerduty:PFQZPSY",
        "role": "prod-db-read",
        "subject": "alice@example.com",
        "principal_arn": "arn:aws:iam::123456789012:user/alice",
        "role_arn": "arn:aws:iam::123456789012:role/breakglass/breakglass-3kq7zb2xw5m4npta",
        "granted_at": "2026-05-01T03:12:00Z",
        "expires_at": "2026-05-01T03:41:59.700Z",
        "assume_role_command": "aws sts assume-role --role-arn arn:aws:iam::123456789012:role/breakglass/breakglass-3kq7zb2xw5m4npta --role-session-name alice@example.com --duration-seconds 1799",
        "a_field_from_a_newer_service": true
    }))
    .unwrap()
}

#[test]
fn spans_use_the_two_largest_units_that_matter() {
    assert_eq!(span(0), "0s");
    assert_eq!(span(45), "45s");
    assert_eq!(span(90), "1m 30s");
    assert_eq!(span(300), "5m");
    assert_eq!(span(1799), "29m");
    assert_eq!(span(3600), "1h");
    assert_eq!(span(3900), "1h 5m");
    assert_eq!(span(86_400 * 3 + 3600 * 4 + 59), "3d 4h");
}

#[test]
fn relative_times_count_down_to_the_second_below() {
    let t = |s: i64| now() + Duration::seconds(s);
    assert_eq!(relative(now(), t(1800)), "in 30m");
    assert_eq!(
        relative(now(), now() + Duration::milliseconds(1_799_700)),
        "in 29m"
    );
    assert_eq!(relative(now(), t(-125)), "2m 5s ago");
    assert_eq!(relative(now(), now()), "now");
}

#[test]
fn an_active_grant_shows_id_status_arn_expiry_then_the_command_on_the_last_line() {
    let out = elevated(&binding("active"), false, now());
    assert_eq!(
        out,
        "Granted prod-db-read on pagerduty:PFQZPSY to alice@example.com.\n\
         \x20 binding   3kq7zb2xw5m4npta\n\
         \x20 status    active\n\
         \x20 role ARN  arn:aws:iam::123456789012:role/breakglass/breakglass-3kq7zb2xw5m4npta\n\
         \x20 expires   2026-05-01T03:41:59Z (in 29m)\n\
         \n\
         Assume the role with:\n\
         aws sts assume-role --role-arn arn:aws:iam::123456789012:role/breakglass/breakglass-3kq7zb2xw5m4npta --role-session-name alice@example.com --duration-seconds 1799\n"
    );
}

#[test]
fn a_repeated_elevate_says_it_is_the_same_binding() {
    let out = elevated(&binding("active"), true, now());
    assert!(
        out.starts_with("You already hold prod-db-read on pagerduty:PFQZPSY"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("--duration-seconds 1799"), "{out}");
}

#[test]
fn a_pending_request_says_who_approves_and_the_command_they_run() {
    let mut b = binding("pending_approval");
    b.role = "prod-admin".into();
    b.role_arn = None;
    b.expires_at = None;
    b.assume_role_command = None;
    b.approval_deadline = Some(now() + Duration::minutes(15));
    let out = elevated(&b, false, now());
    assert!(
        out.contains("waits for another responder of the incident"),
        "{out}"
    );
    assert!(
        out.contains("approve by  2026-05-01T03:27:00Z (in 15m)"),
        "{out}"
    );
    assert!(
        out.contains("\nbreakglass approve 3kq7zb2xw5m4npta\n"),
        "{out}"
    );
    assert!(!out.contains("aws sts"), "{out}");
}

#[test]
fn approval_tells_the_approver_how_the_requester_gets_the_command() {
    let mut b = binding("active");
    b.approved_by = Some("bob@example.com".into());
    let out = approved(&b, now());
    assert!(
        out.starts_with("Approved: alice@example.com now holds prod-db-read"),
        "{out}"
    );
    assert!(out.contains("approved by  bob@example.com"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("breakglass status 3kq7zb2xw5m4npta"),
        "{out}"
    );
}

#[test]
fn revoke_says_the_role_is_being_removed_and_status_shows_why_a_binding_ended() {
    let out = revoked(&binding("revoking"), now());
    assert!(
        out.starts_with(
            "Revoking prod-db-read on pagerduty:PFQZPSY: the IAM role is being removed"
        ),
        "{out}"
    );
    let mut b = binding("revoked");
    b.ended_at = Some(now() - Duration::minutes(3));
    b.end_reason = Some("revoked_by_holder".into());
    b.assume_role_command = None;
    let out = status(&b, now());
    assert!(
        out.starts_with("prod-db-read on pagerduty:PFQZPSY for alice@example.com is revoked."),
        "{out}"
    );
    assert!(
        out.contains("ended     2026-05-01T03:09:00Z (3m ago), revoked by holder"),
        "{out}"
    );
    assert!(!out.contains("expires"), "{out}");
}

#[test]
fn incidents_are_an_aligned_table_with_dashes_for_what_is_unknown() {
    let rows: IncidentList = serde_json::from_value(json!({"incidents": [
        {"id": "pagerduty:PFQZPSY", "status": "open", "priority": "P1", "service": "checkout",
         "title": "Replica lag on checkout-db", "opened_at": "2026-05-01T02:59:00Z", "responders": []},
        {"id": "opsgenie:70413a06-38d6-4c85", "status": "acknowledged", "priority": null, "service": null,
         "title": null, "opened_at": "2026-04-30T23:12:00Z"}
    ]}))
    .unwrap();
    assert_eq!(
        incidents(&rows.incidents, false, now()),
        "ID                           STATUS        PRIORITY  SERVICE   TITLE                       OPENED\n\
         pagerduty:PFQZPSY            open          P1        checkout  Replica lag on checkout-db  13m ago\n\
         opsgenie:70413a06-38d6-4c85  acknowledged  -         -         -                           4h ago\n"
    );
}

#[test]
fn no_incidents_says_so_in_words() {
    assert_eq!(incidents(&[], false, now()), "no open incidents for you\n");
    assert_eq!(incidents(&[], true, now()), "no incidents for you\n");
}

#[test]
fn long_titles_are_cut_to_keep_one_line_per_incident() {
    let long = "x".repeat(100);
    let cut = truncate(&long, TITLE_WIDTH);
    assert_eq!(cut.chars().count(), TITLE_WIDTH);
    assert!(cut.ends_with('…'));
    assert_eq!(truncate("short", TITLE_WIDTH), "short");
}

#[test]
fn status_shows_the_account_and_why_a_revocation_is_being_retried() {
    let mut b = binding("revoking");
    b.account = Some("prod".into());
    b.last_error = Some("in account prod (111111111111): cannot assume its granter role".into());
    let out = status(&b, now());
    assert!(out.contains("  account   prod\n"), "{out}");
    assert!(
        out.contains(
            "  retrying  in account prod (111111111111): cannot assume its granter role\n"
        ),
        "{out}"
    );
    // A binding whose revocation has not failed shows no retry.
    b.last_error = None;
    assert!(!status(&b, now()).contains("retrying"));
}
