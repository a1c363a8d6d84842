//! Building a [`Review`] from an incident, its bindings and its audit events: pure, so that
//! every duration and summary is unit-tested without Redis.

use chrono::{DateTime, Utc};

use super::model::*;
use super::recorded::{how, Recorded};
use crate::audit::export::Entry;
use crate::bindings::events::{Granted, Revoked, Revoking};
use crate::bindings::{Binding, EndReason};
use crate::incidents::events::StatusChanged;
use crate::incidents::{Incident, Status};

pub use super::recorded::summary;

/// When the trail recorded an event.
fn recorded_at(e: &Entry) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&e.at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn ms(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_milliseconds())
}

/// The review of `incident` as of `now`. `events` are the incident's audit events in the
/// order they were recorded; `archived` counts listed events no longer in Redis.
pub fn build(
    incident: &Incident,
    bindings: &[Binding],
    events: &[Entry],
    archived: usize,
    now: DateTime<Utc>,
) -> Review {
    let opened = incident.opened_at;
    let review_events: Vec<ReviewEvent> = events
        .iter()
        .map(|e| ReviewEvent {
            seq: e.seq,
            shard: e.shard,
            id: e.id.clone(),
            at: e.at.clone(),
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            source: e.source.clone(),
            binding: e.binding.clone(),
            summary: summary(e),
            since_open_ms: recorded_at(e).map(|t| (t - opened).num_milliseconds()),
            hash: e.hash.clone(),
            data: e.data.clone(),
        })
        .collect();
    // When breakglass heard of the resolve: what the revocations raced against.
    let heard_resolved = events
        .iter()
        .filter(|e| {
            e.decode::<StatusChanged>()
                .is_some_and(|c| c.to == Status::Resolved)
        })
        .filter_map(recorded_at)
        .next_back();
    let lifecycle = lifecycle(incident, events);
    let bindings: Vec<BindingReview> = bindings
        .iter()
        .map(|b| binding_review(b, events, heard_resolved))
        .collect();
    let mut times: Vec<DateTime<Utc>> = vec![opened];
    times.extend(incident.acknowledged_at);
    times.extend(incident.resolved_at);
    times.extend(lifecycle.iter().map(|p| p.from));
    for b in &bindings {
        times.extend(
            [
                Some(b.requested_at),
                b.granted_at,
                b.revocation_started_at,
                b.revoked_at,
            ]
            .into_iter()
            .flatten(),
        );
        if b.revoked_at.is_none() {
            times.extend(b.expires_at);
        }
    }
    let still_running = incident.resolved_at.is_none()
        || bindings
            .iter()
            .any(|b| b.revoked_at.is_none() && b.granted_at.is_some());
    if still_running {
        times.push(now);
    }
    let window = Window {
        start: times.iter().copied().min().unwrap_or(opened),
        end: times.iter().copied().max().unwrap_or(now),
    };
    let sealed = review_events.iter().filter(|e| e.hash.is_some()).count();
    Review {
        generated_at: now,
        incident: IncidentSummary {
            id: incident.id.to_string(),
            source: incident.source.as_str().to_owned(),
            title: incident.title.clone(),
            service: incident.service.clone(),
            teams: incident.teams.clone(),
            priority: incident.priority.clone(),
            link: incident.link.clone(),
            status: incident.status.as_str().to_owned(),
            opened_at: opened,
            acknowledged_at: incident.acknowledged_at,
            resolved_at: incident.resolved_at,
            duration_ms: Some((incident.resolved_at.unwrap_or(now) - opened).num_milliseconds()),
            responders: incident
                .responders
                .iter()
                .map(|r| r.email.clone().unwrap_or_else(|| r.tool_id.clone()))
                .collect(),
            former_responders: incident.former_responders.iter().cloned().collect(),
        },
        lifecycle,
        bindings,
        chain: ChainStatus {
            sealed,
            unsealed: review_events.len() - sealed,
            archived,
            verify_with: "breakglass audit verify --config <path>".into(),
        },
        events: review_events,
        window,
    }
}

/// The statuses the tool reported, from the recorded status changes (provider times); from
/// the incident's own timestamps when no change is on record (archived).
fn lifecycle(incident: &Incident, events: &[Entry]) -> Vec<Phase> {
    let mut marks: Vec<(DateTime<Utc>, String, String)> = events
        .iter()
        .filter_map(|e| e.decode::<StatusChanged>())
        .map(|c| (c.occurred_at, c.to.as_str().to_owned(), c.kind))
        .collect();
    if marks.is_empty() {
        marks.push((incident.opened_at, "open".into(), "opened".into()));
        if let Some(t) = incident.acknowledged_at {
            marks.push((t, "acknowledged".into(), "acknowledged".into()));
        }
        if let Some(t) = incident.resolved_at {
            marks.push((t, "resolved".into(), "resolved".into()));
        }
    }
    // Stable: equal times keep the order they were recorded in.
    marks.sort_by_key(|m| m.0);
    let mut phases: Vec<Phase> = Vec::new();
    for (i, (from, status, kind)) in marks.iter().enumerate() {
        let until = marks.get(i + 1).map(|m| m.0);
        phases.push(Phase {
            status: status.clone(),
            from: *from,
            until,
            kind: kind.clone(),
        });
    }
    // A resolved incident's last phase is the resolution itself: it has no end.
    phases
}

fn binding_review(
    b: &Binding,
    events: &[Entry],
    heard_resolved: Option<DateTime<Utc>>,
) -> BindingReview {
    let mine: Vec<&Entry> = events
        .iter()
        .filter(|e| e.binding == b.id.as_str())
        .collect();
    let granted = mine.iter().find_map(|e| e.decode::<Granted>());
    let revoking = mine
        .iter()
        .find(|e| e.decode::<Revoking>().is_some())
        .copied();
    let revoked = mine
        .iter()
        .rev()
        .find_map(|e| Some((*e, e.decode::<Revoked>()?)));
    let iam = revoked.as_ref().and_then(|(_, r)| r.iam.as_ref());
    let revoked_at = match (&revoked, iam) {
        (Some((e, _)), Some(iam)) => iam.role_deleted_at.or_else(|| recorded_at(e)),
        (Some((e, _)), None) => recorded_at(e),
        (None, _) => None,
    };
    let how = match (&revoked, iam) {
        (Some(_), Some(iam)) => Some(how(iam)),
        (Some(_), None) => Some("role removed".into()),
        (None, _) => match b.end_reason {
            Some(EndReason::ApprovalExpired) => {
                Some("never granted: the request expired unapproved".into())
            }
            Some(EndReason::GrantFailed) if b.granted_at.is_none() => {
                Some("never granted: the grant failed and was rolled back".into())
            }
            _ => None,
        },
    };
    let revocation_started_at = revoking.and_then(recorded_at);
    let ended_by = b
        .ended_by
        .clone()
        .or_else(|| revoking.map(|e| e.actor.clone()));
    let resolve_to_removed_ms = if b.end_reason == Some(EndReason::IncidentResolved) {
        ms(heard_resolved, revoked_at)
    } else {
        None
    };
    BindingReview {
        id: b.id.to_string(),
        role: b.role.clone(),
        account: b.account.clone(),
        requester: b.subject.clone(),
        principal_arn: b.principal_arn.clone(),
        reason: b.reason.clone(),
        approval: match b.approval {
            crate::bindings::Approval::Auto => "auto".into(),
            crate::bindings::Approval::Peer => "peer".into(),
        },
        approved_by: b.approved_by.clone(),
        policy: granted.as_ref().map(|g| g.policy.clone()),
        managed_policies: granted
            .as_ref()
            .map(|g| g.managed_policies.clone())
            .unwrap_or_default(),
        permissions_boundary: granted.and_then(|g| g.permissions_boundary),
        role_name: b.role_name.clone(),
        role_arn: b.role_arn.clone(),
        status: b.status.as_str().to_owned(),
        requested_at: b.requested_at,
        approved_at: b.approved_at,
        granted_at: b.granted_at,
        expires_at: b.expires_at,
        revocation_started_at,
        sessions_denied_before: iam.and_then(|i| i.sessions_denied_before),
        revoked_at,
        end_reason: b.end_reason.map(|r| r.as_str().to_owned()),
        ended_by,
        how,
        failed_attempts: mine
            .iter()
            .filter(|e| matches!(Recorded::decode(e), Recorded::RevokeFailed(_)))
            .count() as u32,
        durations: Durations {
            request_to_grant_ms: ms(Some(b.requested_at), b.granted_at),
            held_ms: ms(b.granted_at, revoked_at),
            revocation_ms: ms(revocation_started_at, revoked_at),
            resolve_to_removed_ms,
        },
    }
}
