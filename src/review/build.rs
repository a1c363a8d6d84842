//! Building a [`Review`] from an incident, its bindings and its audit events: pure, so that
//! every duration and summary is unit-tested without Redis.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::*;
use crate::audit::export::Entry;
use crate::elevation::model::Binding;
use crate::incidents::Incident;

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
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
            since_open_ms: time(&Value::String(e.at.clone()))
                .map(|t| (t - opened).num_milliseconds()),
            hash: e.hash.clone(),
            data: e.data.clone(),
        })
        .collect();
    // When breakglass heard of the resolve: what the revocations raced against.
    let heard_resolved = events
        .iter()
        .filter(|e| e.kind == "incident.status_changed" && e.data["to"] == "resolved")
        .filter_map(|e| time(&Value::String(e.at.clone())))
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
        .filter(|e| e.kind == "incident.status_changed")
        .filter_map(|e| {
            let at = time(&e.data["occurred_at"]).or_else(|| time(&Value::String(e.at.clone())))?;
            Some((
                at,
                text(&e.data["to"])?,
                text(&e.data["kind"]).unwrap_or_default(),
            ))
        })
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
    let first = |kind: &str| mine.iter().find(|e| e.kind == kind).copied();
    let granted = first("binding.granted");
    let revoking = first("binding.revoking");
    let revoked = mine
        .iter()
        .rev()
        .find(|e| e.kind == "binding.revoked")
        .copied();
    let at = |e: &Entry| time(&Value::String(e.at.clone()));
    let iam = revoked.map(|e| &e.data["iam"]);
    let revoked_at = match (revoked, iam) {
        (Some(e), Some(iam)) => time(&iam["role_deleted_at"]).or_else(|| at(e)),
        (Some(e), None) => at(e),
        (None, _) => None,
    };
    let how = match (revoked, iam) {
        (Some(_), Some(iam)) if iam.is_object() => Some(how(iam)),
        (Some(_), _) => Some("role removed".into()),
        (None, _) => match b.end_reason.map(|r| r.as_str()) {
            Some("approval_expired") => {
                Some("never granted: the request expired unapproved".into())
            }
            Some("grant_failed") if b.granted_at.is_none() => {
                Some("never granted: the grant failed and was rolled back".into())
            }
            _ => None,
        },
    };
    let revocation_started_at = revoking.and_then(at);
    let ended_by = b
        .ended_by
        .clone()
        .or_else(|| revoking.map(|e| e.actor.clone()));
    let resolve_to_removed_ms = if b.end_reason.map(|r| r.as_str()) == Some("incident_resolved") {
        ms(heard_resolved, revoked_at)
    } else {
        None
    };
    BindingReview {
        id: b.id.to_string(),
        role: b.role.clone(),
        requester: b.subject.clone(),
        principal_arn: b.principal_arn.clone(),
        reason: b.reason.clone(),
        approval: match b.approval {
            crate::elevation::model::Approval::Auto => "auto".into(),
            crate::elevation::model::Approval::Peer => "peer".into(),
        },
        approved_by: b.approved_by.clone(),
        policy: granted.and_then(|e| text(&e.data["policy"])),
        managed_policies: granted
            .and_then(|e| e.data["managed_policies"].as_array())
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default(),
        permissions_boundary: granted.and_then(|e| text(&e.data["permissions_boundary"])),
        role_name: b.role_name.clone(),
        role_arn: b.role_arn.clone(),
        status: b.status.as_str().to_owned(),
        requested_at: b.requested_at,
        approved_at: b.approved_at,
        granted_at: b.granted_at,
        expires_at: b.expires_at,
        revocation_started_at,
        sessions_denied_before: iam.and_then(|i| time(&i["sessions_denied_before"])),
        revoked_at,
        end_reason: b.end_reason.map(|r| r.as_str().to_owned()),
        ended_by,
        how,
        failed_attempts: mine
            .iter()
            .filter(|e| e.kind == "binding.revoke_failed")
            .count() as u32,
        durations: Durations {
            request_to_grant_ms: ms(Some(b.requested_at), b.granted_at),
            held_ms: ms(b.granted_at, revoked_at),
            revocation_ms: ms(revocation_started_at, revoked_at),
            resolve_to_removed_ms,
        },
    }
}

/// A time from the record, to the millisecond.
fn ms_text(v: &Value) -> Option<String> {
    time(v).map(crate::audit::rfc3339)
}

/// The IAM steps of a revocation, in words.
fn how(iam: &Value) -> String {
    if iam["already_gone"] == true {
        return "the role was already gone from IAM".into();
    }
    let mut steps = Vec::new();
    if let Some(t) = ms_text(&iam["sessions_denied_before"]) {
        steps.push(format!("sessions issued before {t} denied"));
    }
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default()
    };
    let inline = list(&iam["inline_policies_deleted"]);
    if !inline.is_empty() {
        steps.push(format!("inline policy {} deleted", inline.join(", ")));
    }
    let managed = list(&iam["managed_policies_detached"]);
    if !managed.is_empty() {
        steps.push(format!("managed policy {} detached", managed.join(", ")));
    }
    steps.push(match ms_text(&iam["role_deleted_at"]) {
        Some(t) => format!("role deleted at {t} (IAM confirmed)"),
        None => "role deleted".into(),
    });
    steps.join("; ")
}

/// One line per event, for tables.
pub fn summary(e: &Entry) -> String {
    let d = &e.data;
    let s = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let opt = |v: &Value| v.as_str().map(|x| format!(": {x}")).unwrap_or_default();
    match e.kind.as_str() {
        "webhook.applied" => format!(
            "{} {} applied ({} → {}){}",
            e.actor,
            s(&d["kind"]),
            d["status_before"].as_str().unwrap_or("new"),
            s(&d["status_after"]),
            if d["stale"] == true {
                ", stale: filled in blanks only"
            } else {
                ""
            }
        ),
        "incident.status_changed" => format!(
            "status {} → {}",
            d["from"].as_str().unwrap_or("new"),
            s(&d["to"])
        ),
        "incident.responders_changed" => {
            let names = |v: &Value, sign: &str| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .map(|x| format!("{sign}{x}"))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut all = names(&d["added"], "+");
            all.extend(names(&d["removed"], "−"));
            format!("responders {}", all.join(", "))
        }
        "elevation.requested" => format!(
            "{} asked for {} for {}s ({}){}",
            s(&d["subject"]),
            s(&d["role"]),
            d["duration_seconds"].as_u64().unwrap_or(0),
            s(&d["decision"]),
            opt(&d["reason"])
        ),
        "elevation.denied" => format!(
            "{} refused {}: {} ({})",
            e.actor,
            s(&d["role"]),
            s(&d["rule"]),
            s(&d["message"])
        ),
        "elevation.approved" => format!(
            "approved by {} for {}",
            s(&d["approved_by"]),
            s(&d["subject"])
        ),
        "elevation.approval_refused" => {
            format!("approval by {} refused: {}", e.actor, s(&d["rule"]))
        }
        "binding.granted" => format!(
            "role {} created, expires {}",
            s(&d["role_arn"]),
            ms_text(&d["expires_at"]).unwrap_or_else(|| "?".into())
        ),
        "binding.grant_failed" => format!("grant failed and rolled back{}", opt(&d["error"])),
        "binding.revoking" => format!("revocation started: {}", s(&d["reason"])),
        "binding.revoke_failed" => format!(
            "revocation attempt {} failed{}",
            d["attempts"].as_u64().unwrap_or(0),
            opt(&d["error"])
        ),
        "binding.revoked" => match d.get("iam") {
            Some(iam) if iam.is_object() => how(iam),
            _ => "revoked".into(),
        },
        "binding.approval_expired" => "request expired before anyone approved it".into(),
        "reconciler.role_removed" => format!(
            "reconciler removed role {} ({})",
            s(&d["role_name"]),
            s(&d["reason"])
        ),
        "reconciler.requeued" => "reconciler re-queued a stuck revocation".into(),
        other => other.to_owned(),
    }
}
