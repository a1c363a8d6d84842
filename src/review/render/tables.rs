//! What the Markdown and HTML reports show, before either escapes it: the tables and field
//! lists of a review, as typed [`Cell`]s that each format marks up its own way.

use chrono::{DateTime, Utc};

use super::{list, opt_text, or_none, rfc, short, span_ms, NONE};
use crate::review::model::{human_duration, BindingReview, Phase, Review};

/// One value of a table or a field list: its text, and what it is, for HTML to mark it up.
/// Markdown shows every cell as its escaped [`Cell::text`].
#[derive(Debug, Clone)]
pub(super) enum Cell {
    Text(String),
    /// An incident's or a binding's status: a coloured badge.
    Status(String),
    /// Machine text (a time, an event type): monospace.
    Mono(String),
    /// A URL: a link if it is http(s).
    Link(String),
    /// A chain digest, `None` until sealed: abbreviated, the whole of it in a tooltip.
    Hash(Option<String>),
}

impl Cell {
    pub(super) fn text(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Status(s) | Cell::Mono(s) | Cell::Link(s) => s,
            Cell::Hash(hash) => hash.as_deref().unwrap_or("unsealed"),
        }
    }
}

pub(super) struct Table {
    pub(super) headers: Vec<&'static str>,
    pub(super) rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A row for each item.
    pub(super) fn new<T>(
        headers: &[&'static str],
        items: &[T],
        row: impl FnMut(&T) -> Vec<Cell>,
    ) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: items.iter().map(row).collect(),
        }
    }

    /// The table without one of its columns: the Markdown report leaves out what only the
    /// HTML one has room for.
    pub(super) fn without(mut self, header: &str) -> Self {
        if let Some(at) = self.headers.iter().position(|h| *h == header) {
            self.headers.remove(at);
            for row in &mut self.rows {
                row.remove(at);
            }
        }
        self
    }
}

/// A label and its value.
pub(super) type Fields = Vec<(&'static str, Cell)>;

fn since_open(ms: i64) -> String {
    if ms < 0 {
        human_duration(ms)
    } else {
        format!("+{}", human_duration(ms))
    }
}

fn duration_text(r: &Review) -> String {
    match (r.incident.duration_ms, r.incident.resolved_at) {
        (Some(ms), Some(_)) => human_duration(ms),
        (Some(ms), None) => format!("{} (still open)", human_duration(ms)),
        (None, _) => NONE.to_owned(),
    }
}

fn approved_by_text(b: &BindingReview) -> String {
    match b.approved_by.as_deref() {
        Some(who) if !who.is_empty() => who.to_owned(),
        _ if b.approval == "auto" => "auto-approved".to_owned(),
        _ => NONE.to_owned(),
    }
}

/// `incident_resolved (by pagerduty)`.
fn how_it_ended(b: &BindingReview) -> String {
    match (b.end_reason.as_deref(), b.ended_by.as_deref()) {
        (Some(why), Some(by)) => format!("{why} (by {by})"),
        (Some(why), None) => why.to_owned(),
        (None, Some(by)) => format!("ended by {by}"),
        (None, None) if b.revoked_at.is_none() => format!("not ended ({})", b.status),
        (None, None) => NONE.to_owned(),
    }
}

/// The incident's summary.
pub(super) fn incident_fields(r: &Review) -> Fields {
    let i = &r.incident;
    let link = match i.link.as_deref() {
        Some(link) if !link.is_empty() => Cell::Link(link.to_owned()),
        _ => Cell::Text(NONE.to_owned()),
    };
    vec![
        ("Incident", Cell::Text(i.id.clone())),
        ("Source", Cell::Text(i.source.clone())),
        ("Title", Cell::Text(opt_text(&i.title))),
        ("Service", Cell::Text(opt_text(&i.service))),
        ("Teams", Cell::Text(list(&i.teams))),
        ("Priority", Cell::Text(opt_text(&i.priority))),
        ("Status", Cell::Status(i.status.clone())),
        ("Opened", Cell::Text(short(i.opened_at))),
        (
            "Acknowledged",
            Cell::Text(or_none(i.acknowledged_at, short)),
        ),
        ("Resolved", Cell::Text(or_none(i.resolved_at, short))),
        ("Duration", Cell::Text(duration_text(r))),
        ("Responders", Cell::Text(list(&i.responders))),
        ("Former responders", Cell::Text(list(&i.former_responders))),
        ("Link", link),
    ]
}

/// Every field of a binding but the policy.
pub(super) fn binding_fields(b: &BindingReview) -> Fields {
    let exact = |t: Option<DateTime<Utc>>| Cell::Text(or_none(t, rfc));
    let human = |ms: Option<i64>| Cell::Text(or_none(ms, human_duration));
    let d = &b.durations;
    vec![
        ("Binding", Cell::Text(b.id.clone())),
        ("Role", Cell::Text(b.role.clone())),
        ("Account", Cell::Text(b.account.clone())),
        ("Requester", Cell::Text(b.requester.clone())),
        ("Reason", Cell::Text(b.reason.clone())),
        ("Approval", Cell::Text(b.approval.clone())),
        ("Approved by", Cell::Text(approved_by_text(b))),
        ("Status", Cell::Status(b.status.clone())),
        ("Role name", Cell::Text(b.role_name.clone())),
        ("Role ARN", Cell::Text(opt_text(&b.role_arn))),
        ("Principal ARN", Cell::Text(b.principal_arn.clone())),
        ("Managed policies", Cell::Text(list(&b.managed_policies))),
        (
            "Permissions boundary",
            Cell::Text(opt_text(&b.permissions_boundary)),
        ),
        ("Requested", Cell::Text(rfc(b.requested_at))),
        ("Approved", exact(b.approved_at)),
        ("Granted", exact(b.granted_at)),
        ("Expires", exact(b.expires_at)),
        ("Revocation started", exact(b.revocation_started_at)),
        ("Sessions denied before", exact(b.sessions_denied_before)),
        ("Removed (IAM confirmed)", exact(b.revoked_at)),
        ("End reason", Cell::Text(opt_text(&b.end_reason))),
        ("Ended by", Cell::Text(opt_text(&b.ended_by))),
        ("How", Cell::Text(opt_text(&b.how))),
        (
            "Failed revocation attempts",
            Cell::Text(b.failed_attempts.to_string()),
        ),
        ("Request to grant", human(d.request_to_grant_ms)),
        ("Held", human(d.held_ms)),
        ("Revocation took", human(d.revocation_ms)),
        ("Resolve to removed", human(d.resolve_to_removed_ms)),
    ]
}

/// What an open-ended phase shows: a resolved incident's last phase is its end, not a stretch
/// still running.
fn open_end(p: &Phase) -> String {
    if p.status == "resolved" {
        NONE.to_owned()
    } else {
        "ongoing".to_owned()
    }
}

pub(super) fn lifecycle_table(r: &Review) -> Table {
    let headers = ["Status", "Reported as", "From", "Until", "Lasted"];
    Table::new(&headers, &r.lifecycle, |p| {
        let (until, lasted) = match p.until {
            Some(u) => (short(u), human_duration(span_ms(p.from, u))),
            None => (open_end(p), open_end(p)),
        };
        vec![
            Cell::Status(p.status.clone()),
            Cell::Text(p.kind.clone()),
            Cell::Text(short(p.from)),
            Cell::Text(until),
            Cell::Text(lasted),
        ]
    })
}

pub(super) fn bindings_table(r: &Review) -> Table {
    let headers = [
        "Requester",
        "Role",
        "Reason",
        "Approved by",
        "Granted",
        "Expires",
        "Removed",
        "Held",
        "How it ended",
    ];
    Table::new(&headers, &r.bindings, |b| {
        [
            b.requester.clone(),
            b.role.clone(),
            b.reason.clone(),
            approved_by_text(b),
            or_none(b.granted_at, short),
            or_none(b.expires_at, short),
            or_none(b.revoked_at, short),
            or_none(b.durations.held_ms, human_duration),
            how_it_ended(b),
        ]
        .map(Cell::Text)
        .into()
    })
}

pub(super) fn events_table(r: &Review) -> Table {
    let headers = [
        "Seq",
        "Time",
        "+since open",
        "Type",
        "Actor",
        "Summary",
        "Hash",
    ];
    Table::new(&headers, &r.events, |e| {
        vec![
            Cell::Text(or_none(e.seq, |s| s.to_string())),
            Cell::Mono(e.at.clone()),
            Cell::Text(or_none(e.since_open_ms, since_open)),
            Cell::Mono(e.kind.clone()),
            Cell::Text(e.actor.clone()),
            Cell::Text(e.summary.clone()),
            Cell::Hash(e.hash.clone().filter(|h| !h.is_empty())),
        ]
    })
}
