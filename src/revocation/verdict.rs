//! The reconciler's decision about one role, as pure functions: which binding a role belongs to,
//! and whether it may stay. Errs towards removal: a role is kept only when a live binding in
//! Redis claims it and its expiry is readable and still ahead.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::bindings::{Binding, BindingId, BindingStatus};
use crate::grants::{policy, TAG_BINDING, TAG_EXPIRES_AT};

/// Why a role is removed. `as_str` is the `reason` in logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// Neither a `breakglass:binding` tag nor a `breakglass-<id>` name names a binding.
    NotABinding,
    /// It names a binding that Redis does not have (records wiped, or made behind our back).
    BindingNotFound,
    /// Its binding ended (revoked or failed) but the role survived.
    BindingEnded(BindingStatus),
    /// Its binding is live but is another role's: revoking that binding would not remove this one.
    NotTheBindingsRole,
    /// Its binding is live but in another account: this copy is not what the grant made.
    OtherAccount,
    /// No readable `breakglass:expires-at` tag: nothing says when it should end.
    ExpiryUnreadable,
    /// Its expiry (tag or binding) has passed.
    Expired,
}

impl RemoveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoveReason::NotABinding => "not_a_binding",
            RemoveReason::BindingNotFound => "binding_not_found",
            RemoveReason::BindingEnded(_) => "binding_ended",
            RemoveReason::NotTheBindingsRole => "not_the_bindings_role",
            RemoveReason::OtherAccount => "other_account",
            RemoveReason::ExpiryUnreadable => "expiry_unreadable",
            RemoveReason::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Remove(RemoveReason),
}

/// The binding a role belongs to: its `breakglass:binding` tag when it has one, else the id in
/// its name. A tag that is not a binding id names no binding (it is not the name's to overrule).
pub fn binding_of(role_name: &str, tags: &HashMap<String, String>) -> Option<BindingId> {
    match tags.get(TAG_BINDING) {
        Some(tagged) => tagged.parse().ok(),
        None => policy::binding_id_of(role_name)?.parse().ok(),
    }
}

/// Whether a role found in `account` may stay. `binding` is the record [`binding_of`] pointed
/// at, if Redis has it (its `account` the catalogue name, as `account` is).
/// A `granting` binding keeps its role (the grant may be in flight); a `revoking` one does too
/// (the scheduler is on it, and the reconciler re-queues it if not).
pub fn judge(
    role_name: &str,
    tags: &HashMap<String, String>,
    binding: Option<&Binding>,
    account: &str,
    now: DateTime<Utc>,
) -> Verdict {
    let remove = Verdict::Remove;
    if binding_of(role_name, tags).is_none() {
        return remove(RemoveReason::NotABinding);
    }
    let Some(binding) = binding else {
        return remove(RemoveReason::BindingNotFound);
    };
    if !binding.status.is_live() {
        return remove(RemoveReason::BindingEnded(binding.status));
    }
    if binding.account != account {
        return remove(RemoveReason::OtherAccount);
    }
    if binding.role_name != role_name {
        return remove(RemoveReason::NotTheBindingsRole);
    }
    let tagged = tags
        .get(TAG_EXPIRES_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let Some(tagged) = tagged else {
        return remove(RemoveReason::ExpiryUnreadable);
    };
    // The earlier of the two: neither a stale record nor an edited tag extends access.
    let expiry = binding.expires_at.map_or(tagged, |b| b.min(tagged));
    if expiry <= now {
        return remove(RemoveReason::Expired);
    }
    Verdict::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::Approval;

    const ID: &str = "3abcdefgh2345677";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        at("2030-01-01T12:00:00Z")
    }

    fn tags(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ours(expires_at: &str) -> HashMap<String, String> {
        tags(&[(TAG_BINDING, ID), (TAG_EXPIRES_AT, expires_at)])
    }

    fn binding(status: BindingStatus, expires_at: Option<&str>) -> Binding {
        Binding {
            id: ID.parse().unwrap(),
            incident: "pagerduty:PFQZPSY".parse().unwrap(),
            role: "prod-db-read".into(),
            account: "default".into(),
            subject: "alice@example.com".into(),
            principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
            status,
            reason: "replica lag".into(),
            duration_seconds: 3600,
            approval: Approval::Auto,
            requested_at: at("2030-01-01T11:00:00Z"),
            approved_by: None,
            approved_at: None,
            approval_deadline: None,
            role_name: policy::role_name(ID),
            role_arn: None,
            granted_at: None,
            expires_at: expires_at.map(at),
            ended_at: None,
            end_reason: None,
            ended_by: None,
            attempts: 0,
            last_error: None,
        }
    }

    fn role() -> String {
        policy::role_name(ID)
    }

    /// The verdict on this binding's own role, in its own account, expiring an hour from now.
    fn judged(binding: Option<&Binding>) -> Verdict {
        judge(
            &role(),
            &ours("2030-01-01T13:00:00Z"),
            binding,
            "default",
            now(),
        )
    }

    #[test]
    fn the_binding_comes_from_the_tag_else_from_the_role_name() {
        let id: BindingId = ID.parse().unwrap();
        assert_eq!(binding_of(&role(), &tags(&[])), Some(id.clone()));
        assert_eq!(
            binding_of("hand-made", &tags(&[(TAG_BINDING, ID)])),
            Some(id)
        );
        let other = "5zzzzzzzzzzzzzzz";
        assert_eq!(
            binding_of(&role(), &tags(&[(TAG_BINDING, other)])),
            Some(other.parse().unwrap()),
            "the tag wins over the name"
        );
        assert_eq!(binding_of("hand-made", &tags(&[])), None);
        assert_eq!(binding_of("breakglass-NOT-AN-ID", &tags(&[])), None);
        assert_eq!(
            binding_of(&role(), &tags(&[(TAG_BINDING, "garbage")])),
            None,
            "a tag that is not an id names no binding"
        );
    }

    #[test]
    fn a_live_binding_whose_expiry_is_ahead_keeps_its_role() {
        for status in [
            BindingStatus::Granting,
            BindingStatus::Active,
            BindingStatus::Revoking,
        ] {
            let b = binding(status, Some("2030-01-01T13:00:00Z"));
            assert_eq!(judged(Some(&b)), Verdict::Keep, "{status:?}");
        }
    }

    #[test]
    fn a_role_no_binding_claims_is_removed() {
        assert_eq!(
            judge("hand-made", &tags(&[]), None, "default", now()),
            Verdict::Remove(RemoveReason::NotABinding)
        );
        assert_eq!(judged(None), Verdict::Remove(RemoveReason::BindingNotFound));
    }

    #[test]
    fn a_role_whose_binding_ended_is_removed() {
        for status in [BindingStatus::Revoked, BindingStatus::Failed] {
            let b = binding(status, Some("2030-01-01T13:00:00Z"));
            assert_eq!(
                judged(Some(&b)),
                Verdict::Remove(RemoveReason::BindingEnded(status))
            );
        }
    }

    #[test]
    fn a_role_tagged_with_another_roles_binding_is_removed() {
        let b = binding(BindingStatus::Active, Some("2030-01-01T13:00:00Z"));
        assert_eq!(
            judge(
                "breakglass-5zzzzzzzzzzzzzzz",
                &ours("2030-01-01T13:00:00Z"),
                Some(&b),
                "default",
                now()
            ),
            Verdict::Remove(RemoveReason::NotTheBindingsRole)
        );
    }

    #[test]
    fn a_live_binding_keeps_its_role_only_in_its_own_account() {
        let mut b = binding(BindingStatus::Active, Some("2030-01-01T13:00:00Z"));
        b.account = "prod".into();
        let found_in = |b: &Binding, account: &str| {
            judge(
                &role(),
                &ours("2030-01-01T13:00:00Z"),
                Some(b),
                account,
                now(),
            )
        };
        assert_eq!(found_in(&b, "prod"), Verdict::Keep);
        for elsewhere in ["staging", "default"] {
            assert_eq!(
                found_in(&b, elsewhere),
                Verdict::Remove(RemoveReason::OtherAccount)
            );
        }
        // An ended binding is reported as ended wherever its role turns up.
        b.status = BindingStatus::Revoked;
        assert_eq!(
            found_in(&b, "staging"),
            Verdict::Remove(RemoveReason::BindingEnded(BindingStatus::Revoked))
        );
    }

    #[test]
    fn a_passed_missing_or_unreadable_expiry_removes_the_role() {
        let b = binding(BindingStatus::Active, Some("2030-01-01T13:00:00Z"));
        let judged =
            |tags: HashMap<String, String>| judge(&role(), &tags, Some(&b), "default", now());
        assert_eq!(
            judged(ours("2030-01-01T11:59:59Z")),
            Verdict::Remove(RemoveReason::Expired)
        );
        assert_eq!(
            judged(ours("2030-01-01T12:00:00Z")),
            Verdict::Remove(RemoveReason::Expired),
            "expired at the instant itself"
        );
        assert_eq!(
            judged(tags(&[(TAG_BINDING, ID)])),
            Verdict::Remove(RemoveReason::ExpiryUnreadable)
        );
        assert_eq!(
            judged(ours("tomorrow")),
            Verdict::Remove(RemoveReason::ExpiryUnreadable)
        );
    }

    #[test]
    fn the_earlier_of_tag_and_record_bounds_the_role() {
        let ended_in_redis = binding(BindingStatus::Active, Some("2030-01-01T11:00:00Z"));
        assert_eq!(
            judge(
                &role(),
                &ours("2030-01-01T13:00:00Z"),
                Some(&ended_in_redis),
                "default",
                now()
            ),
            Verdict::Remove(RemoveReason::Expired)
        );
        // A record without an expiry (a live one always has one): the tag alone decides.
        let no_expiry = binding(BindingStatus::Granting, None);
        assert_eq!(
            judge(
                &role(),
                &ours("2030-01-01T13:00:00Z"),
                Some(&no_expiry),
                "default",
                now()
            ),
            Verdict::Keep
        );
    }
}
