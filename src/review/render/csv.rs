//! The review as CSV: one row for the incident, each phase, each binding and each event, in
//! one set of columns, so that a spreadsheet can filter it by `section`. The `csv` crate quotes
//! the cells; text from the outside world is also guarded against formula injection.

use std::fmt::{Display, Write as _};

use chrono::{DateTime, Utc};

use super::{rfc, span_ms, title_of};
use crate::review::model::{human_duration, Review};

pub(super) const CSV_COLUMNS: [&str; 28] = [
    "section",
    "at",
    "seq",
    "type",
    "actor",
    "incident",
    "binding",
    "role",
    "requester",
    "approved_by",
    "reason",
    "role_arn",
    "requested_at",
    "approved_at",
    "granted_at",
    "expires_at",
    "revocation_started_at",
    "sessions_denied_before",
    "revoked_at",
    "end_reason",
    "ended_by",
    "how",
    "request_to_grant_s",
    "held_s",
    "revocation_s",
    "resolve_to_removed_s",
    "summary",
    "hash",
];

/// A cell that a spreadsheet would take for a formula gets a leading `'`.
pub(super) fn formula_guard(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn opt_rfc(t: Option<DateTime<Utc>>) -> String {
    t.map(rfc).unwrap_or_default()
}

/// Milliseconds as seconds with three decimals: `12.345`.
fn seconds(ms: Option<i64>) -> String {
    ms.map(|ms| {
        let sign = if ms < 0 { "-" } else { "" };
        let abs = ms.unsigned_abs();
        format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
    })
    .unwrap_or_default()
}

/// One CSV row, by column name.
struct CsvRow(Vec<String>);

impl CsvRow {
    /// A row of `section`, about incident `incident`.
    fn new(section: &str, incident: &str) -> Self {
        let mut row = Self(vec![String::new(); CSV_COLUMNS.len()]);
        row.0[0] = section.to_owned();
        row.text("incident", incident)
    }

    /// A value that we format ourselves (times, numbers): written as is.
    fn raw(mut self, column: &str, value: String) -> Self {
        let i = CSV_COLUMNS
            .iter()
            .position(|c| *c == column)
            .unwrap_or_else(|| panic!("unknown CSV column {column}"));
        self.0[i] = value;
        self
    }

    /// Text from the outside world: guarded against formula injection.
    fn text(self, column: &str, value: &str) -> Self {
        self.raw(column, formula_guard(value))
    }

    fn opt_text(self, column: &str, value: &Option<String>) -> Self {
        self.text(column, value.as_deref().unwrap_or(""))
    }
}

/// Appends `; label: value` to a row's summary, if there is a value.
fn add_part(summary: &mut String, label: &str, value: Option<impl Display>) {
    if let Some(value) = value {
        let _ = write!(summary, "; {label}: {value}");
    }
}

/// The items, comma-separated, if there are any.
fn joined(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(", "))
}

pub fn csv(r: &Review) -> String {
    let i = &r.incident;
    let mut rows = Vec::with_capacity(1 + r.lifecycle.len() + r.bindings.len() + r.events.len());

    let mut summary = format!("{}: {}", i.source, title_of(r));
    add_part(&mut summary, "service", i.service.as_deref());
    add_part(&mut summary, "priority", i.priority.as_deref());
    add_part(&mut summary, "link", i.link.as_deref());
    add_part(&mut summary, "teams", joined(&i.teams));
    add_part(&mut summary, "acknowledged", i.acknowledged_at.map(rfc));
    add_part(&mut summary, "resolved", i.resolved_at.map(rfc));
    add_part(&mut summary, "duration", i.duration_ms.map(human_duration));
    add_part(&mut summary, "responders", joined(&i.responders));
    add_part(
        &mut summary,
        "former responders",
        joined(&i.former_responders),
    );
    rows.push(
        CsvRow::new("incident", &i.id)
            .raw("at", rfc(i.opened_at))
            .text("type", &i.status)
            .text("summary", &summary),
    );

    for p in &r.lifecycle {
        let summary = match p.until {
            Some(until) => format!(
                "{} until {} ({})",
                p.kind,
                rfc(until),
                human_duration(span_ms(p.from, until))
            ),
            None => format!("{}, ongoing", p.kind),
        };
        rows.push(
            CsvRow::new("phase", &i.id)
                .raw("at", rfc(p.from))
                .text("type", &p.status)
                .text("summary", &summary),
        );
    }

    for b in &r.bindings {
        let d = &b.durations;
        let mut summary = format!(
            "account: {}; approval: {}; role name: {}; principal: {}",
            b.account, b.approval, b.role_name, b.principal_arn
        );
        add_part(
            &mut summary,
            "managed policies",
            joined(&b.managed_policies),
        );
        add_part(
            &mut summary,
            "permissions boundary",
            b.permissions_boundary.as_deref(),
        );
        add_part(
            &mut summary,
            "failed revocation attempts",
            Some(b.failed_attempts).filter(|n| *n > 0),
        );
        rows.push(
            CsvRow::new("binding", &i.id)
                .raw("at", rfc(b.requested_at))
                .text("type", &b.status)
                .text("binding", &b.id)
                .text("role", &b.role)
                .text("requester", &b.requester)
                .opt_text("approved_by", &b.approved_by)
                .text("reason", &b.reason)
                .opt_text("role_arn", &b.role_arn)
                .raw("requested_at", rfc(b.requested_at))
                .raw("approved_at", opt_rfc(b.approved_at))
                .raw("granted_at", opt_rfc(b.granted_at))
                .raw("expires_at", opt_rfc(b.expires_at))
                .raw("revocation_started_at", opt_rfc(b.revocation_started_at))
                .raw("sessions_denied_before", opt_rfc(b.sessions_denied_before))
                .raw("revoked_at", opt_rfc(b.revoked_at))
                .opt_text("end_reason", &b.end_reason)
                .opt_text("ended_by", &b.ended_by)
                .opt_text("how", &b.how)
                .raw("request_to_grant_s", seconds(d.request_to_grant_ms))
                .raw("held_s", seconds(d.held_ms))
                .raw("revocation_s", seconds(d.revocation_ms))
                .raw("resolve_to_removed_s", seconds(d.resolve_to_removed_ms))
                .text("summary", &summary),
        );
    }

    for e in &r.events {
        rows.push(
            CsvRow::new("event", &i.id)
                .text("at", &e.at)
                .raw("seq", e.seq.map(|s| s.to_string()).unwrap_or_default())
                .text("type", &e.kind)
                .text("actor", &e.actor)
                .text("binding", &e.binding)
                .text("summary", &e.summary)
                .opt_text("hash", &e.hash),
        );
    }

    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail, and every row has as many cells as the header.
    let _ = w.write_record(CSV_COLUMNS);
    for row in &rows {
        let _ = w.write_record(&row.0);
    }
    let bytes = w
        .into_inner()
        .unwrap_or_else(|e| e.into_inner().get_ref().clone());
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
