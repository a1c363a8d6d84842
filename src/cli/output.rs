//! What the responder commands print: pure functions from the API's JSON (read into the lenient
//! views below) and the current time to text, so that every wording and alignment is unit-tested
//! without a server.
//!
//! The views name only the fields the CLI shows and tolerate any others, so a CLI keeps working
//! against a newer service.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

/// A binding as `GET /v1/elevations/{id}` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct BindingView {
    pub id: String,
    pub status: String,
    pub incident: String,
    pub role: String,
    /// Absent from services older than accounts.
    #[serde(default)]
    pub account: Option<String>,
    pub subject: String,
    pub role_arn: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approval_deadline: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    pub last_error: Option<String>,
    pub assume_role_command: Option<String>,
}

/// `GET /v1/incidents`.
#[derive(Debug, Deserialize)]
pub struct IncidentList {
    pub incidents: Vec<IncidentRow>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IncidentRow {
    pub id: String,
    pub status: String,
    pub priority: Option<String>,
    pub service: Option<String>,
    pub title: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
}

/// Titles longer than this are cut so that the table stays one line per incident.
const TITLE_WIDTH: usize = 48;

/// `breakglass elevate`: the summary, then the next thing to run on a line of its own.
pub fn elevated(b: &BindingView, existing: bool, now: DateTime<Utc>) -> String {
    match b.status.as_str() {
        "active" => {
            let head = if existing {
                format!(
                    "You already hold {} on {}; this is that binding (no second role was made).",
                    b.role, b.incident
                )
            } else {
                format!("Granted {} on {} to {}.", b.role, b.incident, b.subject)
            };
            format!("{head}\n{}{}", details(b, now), assume_role(b))
        }
        "pending_approval" => format!(
            "Requested {} on {}: it waits for another responder of the incident to approve.\n{}\n\
             Ask another responder of {} to run:\nbreakglass approve {}\n\
             Once approved, `breakglass status {}` prints the assume-role command.\n",
            b.role,
            b.incident,
            details(b, now),
            b.incident,
            b.id,
            b.id
        ),
        _ => status(b, now),
    }
}

/// `breakglass status`: where the binding is, and what to do next.
pub fn status(b: &BindingView, now: DateTime<Utc>) -> String {
    let head = format!(
        "{} on {} for {} is {}.",
        b.role,
        b.incident,
        b.subject,
        b.status.replace('_', " ")
    );
    let next = match b.status.as_str() {
        "active" => assume_role(b),
        "pending_approval" => format!(
            "\nAnother responder of {} approves it with:\nbreakglass approve {}\n",
            b.incident, b.id
        ),
        "granting" => format!(
            "\nAWS is still creating the role; run `breakglass status {}` again in a few seconds.\n",
            b.id
        ),
        _ => String::new(),
    };
    format!("{head}\n{}{next}", details(b, now))
}

/// `breakglass approve`: the requester, not the approver, assumes the role.
pub fn approved(b: &BindingView, now: DateTime<Utc>) -> String {
    if b.status != "active" {
        return status(b, now);
    }
    format!(
        "Approved: {} now holds {} on {}.\n{}\n{} gets the assume-role command with:\nbreakglass status {}\n",
        b.subject,
        b.role,
        b.incident,
        details(b, now),
        b.subject,
        b.id
    )
}

/// `breakglass revoke`: the role is deleted in the background; say so and how to follow it.
pub fn revoked(b: &BindingView, now: DateTime<Utc>) -> String {
    match b.status.as_str() {
        "revoking" => format!(
            "Revoking {} on {}: the IAM role is being removed.\n{}\nFollow it with: breakglass status {}\n",
            b.role,
            b.incident,
            details(b, now),
            b.id
        ),
        "revoked" => format!(
            "{} on {} is revoked; the IAM role is gone.\n{}",
            b.role,
            b.incident,
            details(b, now)
        ),
        _ => status(b, now),
    }
}

/// `breakglass incidents`: one aligned row per incident, newest first as the service sends them.
pub fn incidents(rows: &[IncidentRow], all: bool, now: DateTime<Utc>) -> String {
    if rows.is_empty() {
        return if all {
            "no incidents for you\n".into()
        } else {
            "no open incidents for you\n".into()
        };
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.status.clone(),
                dash(&r.priority),
                dash(&r.service),
                truncate(&dash(&r.title), TITLE_WIDTH),
                r.opened_at
                    .map(|t| relative(now, t))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &["ID", "STATUS", "PRIORITY", "SERVICE", "TITLE", "OPENED"],
        &body,
    )
}

/// Columns padded to their widest cell, two spaces apart, no trailing spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `"in 29m"`, `"3h 5m ago"`, `"now"`: how far `t` is from `now`, to the second below.
pub fn relative(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    match secs {
        0 => "now".into(),
        s if s > 0 => format!("in {}", span(s.unsigned_abs())),
        s => format!("{} ago", span(s.unsigned_abs())),
    }
}

/// A length of time in the largest two units that matter; seconds only under ten minutes.
pub fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let pair = |big: u64, a: &str, small: u64, b: &str| {
        if small == 0 {
            format!("{big}{a}")
        } else {
            format!("{big}{a} {small}{b}")
        }
    };
    match secs {
        0..=59 => format!("{s}s"),
        60..=599 => pair(m, "m", s, "s"),
        600..=3599 => format!("{m}m"),
        3600..=86_399 => pair(h, "h", m, "m"),
        _ => pair(d, "d", h, "h"),
    }
}

/// RFC 3339 in UTC to the second, and how far away: `2026-05-01T03:42:00Z (in 29m)`.
fn when(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    format!(
        "{} ({})",
        t.to_rfc3339_opts(SecondsFormat::Secs, true),
        relative(now, t)
    )
}

/// The indented key/value block shared by every binding summary.
fn details(b: &BindingView, now: DateTime<Utc>) -> String {
    let mut rows: Vec<(&str, String)> =
        vec![("binding", b.id.clone()), ("status", b.status.clone())];
    if let Some(account) = &b.account {
        rows.push(("account", account.clone()));
    }
    if let Some(arn) = &b.role_arn {
        rows.push(("role ARN", arn.clone()));
    }
    if let Some(by) = &b.approved_by {
        rows.push(("approved by", by.clone()));
    }
    if b.status == "pending_approval" {
        if let Some(deadline) = b.approval_deadline {
            rows.push(("approve by", when(now, deadline)));
        }
    }
    match (b.ended_at, b.expires_at) {
        (Some(ended), _) => {
            let why = b.end_reason.as_deref().unwrap_or("ended").replace('_', " ");
            rows.push(("ended", format!("{}, {why}", when(now, ended))));
        }
        (None, Some(expires)) => rows.push(("expires", when(now, expires))),
        (None, None) => {}
    }
    match (b.status.as_str(), &b.last_error) {
        ("failed", Some(err)) => rows.push(("error", err.clone())),
        // A revocation being retried: why (an account that cannot be reached, say).
        ("revoking", Some(err)) => rows.push(("retrying", err.clone())),
        _ => {}
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<width$}  {v}\n"))
        .collect()
}

/// The ready-to-paste command, alone on the last line so that `tail -n1` finds it.
fn assume_role(b: &BindingView) -> String {
    match &b.assume_role_command {
        Some(cmd) => format!("\nAssume the role with:\n{cmd}\n"),
        None => String::new(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests;
