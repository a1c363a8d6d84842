//! Rendering a [`Review`] as CSV, Markdown and HTML (JSON is serde's).
//!
//! Every piece of text in a review may come from a webhook or a user, so each format escapes
//! it its own way: CSV cells are quoted by the `csv` crate and guarded against formula
//! injection, Markdown table cells and fences cannot be broken out of, and HTML is escaped
//! everywhere (the document has no scripts and loads nothing).
//!
//! The Markdown and HTML reports show the same tables: each is built once, as [`Table`]s and
//! field lists of typed [`Cell`]s, and each format only escapes and marks up the cells.

use std::fmt::{Display, Write as _};

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

use super::model::{human_duration, BindingReview, Phase, Review, Window};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Shown where a value is missing.
const NONE: &str = "—";

/// RFC 3339, UTC, milliseconds, `Z`.
fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn opt_rfc(t: Option<DateTime<Utc>>) -> String {
    t.map(rfc).unwrap_or_default()
}

/// For people: `2024-05-01 09:04:12 UTC`.
fn short(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `value`'s text, else [`NONE`].
fn or_none<T>(value: Option<T>, text: impl FnOnce(T) -> String) -> String {
    value.map(text).unwrap_or_else(|| NONE.to_owned())
}

fn opt_text(s: &Option<String>) -> String {
    match s.as_deref() {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => NONE.to_owned(),
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "None".to_owned()
    } else {
        items.join(", ")
    }
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

fn span_ms(from: DateTime<Utc>, until: DateTime<Utc>) -> i64 {
    (until - from).num_milliseconds()
}

fn since_open(ms: i64) -> String {
    if ms < 0 {
        human_duration(ms)
    } else {
        format!("+{}", human_duration(ms))
    }
}

/// The incident's title, else its id.
fn title_of(r: &Review) -> &str {
    r.incident
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(&r.incident.id)
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

/// The language of the policy's fence. The policy is always shown exactly as granted
/// (re-serializing would reorder its keys).
fn policy_lang(policy: &str) -> &'static str {
    if serde_json::from_str::<serde::de::IgnoredAny>(policy).is_ok() {
        "json"
    } else {
        "text"
    }
}

fn chain_sentence(r: &Review) -> String {
    let c = &r.chain;
    format!(
        "{} event(s) sealed, {} not sealed yet, {} archived (no longer in Redis).",
        c.sealed, c.unsealed, c.archived
    )
}

/// The command that verifies the chain, unless none was given.
fn verify_command(r: &Review) -> Option<&str> {
    let command = r.chain.verify_with.as_str();
    (!command.trim().is_empty()).then_some(command)
}

// ---------------------------------------------------------------------------------------------
// Tables: what the Markdown and HTML reports show, before either escapes it
// ---------------------------------------------------------------------------------------------

/// One value of a table or a field list: its text, and what it is, for HTML to mark it up.
/// Markdown shows every cell as its escaped [`Cell::text`].
#[derive(Debug, Clone)]
enum Cell {
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
    fn text(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Status(s) | Cell::Mono(s) | Cell::Link(s) => s,
            Cell::Hash(hash) => hash.as_deref().unwrap_or("unsealed"),
        }
    }
}

struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A row for each item.
    fn new<T>(headers: &[&'static str], items: &[T], row: impl FnMut(&T) -> Vec<Cell>) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: items.iter().map(row).collect(),
        }
    }

    /// The table without one of its columns: the Markdown report leaves out what only the
    /// HTML one has room for.
    fn without(mut self, header: &str) -> Self {
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
type Fields = Vec<(&'static str, Cell)>;

/// The incident's summary.
fn incident_fields(r: &Review) -> Fields {
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
fn binding_fields(b: &BindingReview) -> Fields {
    let exact = |t: Option<DateTime<Utc>>| Cell::Text(or_none(t, rfc));
    let human = |ms: Option<i64>| Cell::Text(or_none(ms, human_duration));
    let d = &b.durations;
    vec![
        ("Binding", Cell::Text(b.id.clone())),
        ("Role", Cell::Text(b.role.clone())),
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

fn lifecycle_table(r: &Review) -> Table {
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

fn bindings_table(r: &Review) -> Table {
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

fn events_table(r: &Review) -> Table {
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

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

const CSV_COLUMNS: [&str; 28] = [
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
fn formula_guard(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
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
            "approval: {}; role name: {}; principal: {}",
            b.approval, b.role_name, b.principal_arn
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

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/// Text for a table cell or a line of Markdown: newlines become spaces, and `|` plus the
/// characters that would start markup (HTML, links, code, emphasis) are backslash-escaped.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\n' => out.push(' '),
            '\\' | '|' | '<' | '[' | ']' | '`' | '*' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// An inline code span that the text cannot close.
fn md_code(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A fenced code block that the text cannot close.
fn md_fenced(out: &mut String, lang: &str, body: &str) {
    let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
    let _ = writeln!(out, "{fence}{lang}");
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
}

/// The table, every cell escaped; a line saying so if it has no rows.
fn md_table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    let _ = writeln!(out, "| {} |", table.headers.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(table.headers.len()));
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| md(c.text())).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

pub fn markdown(r: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Access review: {}\n", md(title_of(r)));
    let _ = writeln!(
        out,
        "Generated {} by breakglass. Times are UTC.\n",
        short(r.generated_at)
    );

    let summary = Table::new(&["Field", "Value"], &incident_fields(r), |(k, v)| {
        vec![Cell::Text((*k).to_owned()), v.clone()]
    });
    md_table(&mut out, &summary);

    out.push_str("## Lifecycle\n\n");
    md_table(&mut out, &lifecycle_table(r).without("Reported as"));

    out.push_str("## Access granted\n\n");
    md_table(&mut out, &bindings_table(r));
    for b in &r.bindings {
        let _ = writeln!(
            out,
            "### {} for {} ({})\n",
            md(&b.role),
            md(&b.requester),
            md(&b.id)
        );
        for (k, v) in binding_fields(b) {
            let _ = writeln!(out, "- **{k}:** {}", md(v.text()));
        }
        match b.policy.as_deref() {
            Some(policy) => {
                out.push_str("- **Policy:**\n\n");
                md_fenced(&mut out, policy_lang(policy), policy);
                out.push('\n');
            }
            None => out.push_str("- **Policy:** none recorded\n\n"),
        }
    }

    out.push_str("## Events\n\n");
    md_table(&mut out, &events_table(r).without("Hash"));

    out.push_str("## Evidence chain\n\n");
    let verify = verify_command(r).map_or_else(|| "(no command given)".to_owned(), md_code);
    let _ = writeln!(
        out,
        "{} Verify the whole chain with {verify}.",
        chain_sentence(r)
    );
    out
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// HTML-escapes text for element content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link only for http(s) URLs; anything else (`javascript:`, ...) is text.
fn html_link(link: &str) -> String {
    let lower = link.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let l = escape(link.trim_start());
        format!("<a href=\"{l}\" rel=\"noopener noreferrer\">{l}</a>")
    } else {
        escape(link)
    }
}

/// A CSS class for a status we know; never the status text itself.
fn status_class(status: &str) -> &'static str {
    match status {
        "open" | "triggered" => "s-open",
        "acknowledged" => "s-ack",
        "resolved" => "s-resolved",
        "active" => "s-active",
        "revoked" => "s-revoked",
        "failed" => "s-failed",
        _ => "s-other",
    }
}

fn badge(status: &str) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        status_class(status),
        escape(status)
    )
}

/// A cell, escaped and marked up.
fn html_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => escape(s),
        Cell::Status(s) => badge(s),
        Cell::Mono(s) => format!("<span class=\"mono\">{}</span>", escape(s)),
        Cell::Link(s) => html_link(s),
        Cell::Hash(Some(h)) => {
            let shortened: String = h.chars().take(12).collect();
            let more = if h.chars().count() > 12 { "…" } else { "" };
            format!(
                "<code title=\"{}\">{}{more}</code>",
                escape(h),
                escape(&shortened)
            )
        }
        Cell::Hash(None) => "<span class=\"none\">unsealed</span>".to_owned(),
    }
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1b1b1b; background: #fff; max-width: 1100px; margin: 0 auto; padding: 24px; }
header { border-bottom: 2px solid #1b1b1b; margin-bottom: 1em; }
h1 { font-size: 1.6em; margin: 0 0 .2em; overflow-wrap: anywhere; }
h2 { font-size: 1.2em; margin: 1.6em 0 .5em; border-bottom: 1px solid #bbb; padding-bottom: .15em; }
h3 { font-size: 1.02em; margin: 1.2em 0 .4em; overflow-wrap: anywhere; }
.sub, .muted { color: #555; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
th, td { border: 1px solid #c8c8c8; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f1f1f1; font-weight: 600; }
td { overflow-wrap: anywhere; }
table.kv th { width: 12em; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
pre { background: #f6f6f6; border: 1px solid #d6d6d6; padding: 8px 10px; white-space: pre-wrap; overflow-wrap: anywhere; margin: .3em 0 1em; }
dl.fields { display: grid; grid-template-columns: minmax(10em, 14em) 1fr; gap: 2px 12px; margin: 0 0 .6em; }
dl.fields dt { font-weight: 600; color: #444; }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
.none { color: #555; font-style: italic; }
.badge { display: inline-block; white-space: nowrap; padding: 0 6px; border: 1px solid #888; border-radius: 3px; font-size: 12px; }
.s-open, .s-failed { border-color: #b3261e; color: #b3261e; }
.s-ack { border-color: #9a6700; color: #9a6700; }
.s-resolved, .s-revoked { border-color: #2e6b30; color: #2e6b30; }
.s-active { border-color: #1f4f8f; color: #1f4f8f; }
.binding-detail { border-left: 3px solid #c8c8c8; padding-left: 12px; margin: 1em 0; }
figure { margin: 0; }
svg.timeline { display: block; width: 100%; height: auto; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
svg.timeline text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; font-size: 12px; fill: #1b1b1b; }
svg.timeline text.tick { font-size: 11px; fill: #444; }
svg.timeline text.small { font-size: 11px; }
footer { margin-top: 2em; border-top: 1px solid #bbb; padding-top: .5em; color: #555; font-size: 12px; }
@page { margin: 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  th { background: none; }
  pre { background: none; }
  a { color: inherit; }
  tr, svg.timeline, dl.fields dt, dl.fields dd { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  .binding-detail { break-inside: auto; }
}
"#;

/// The table, every cell escaped; a line saying so if it has no rows.
fn html_table(out: &mut String, class: &str, table: &Table) {
    if table.rows.is_empty() {
        out.push_str("<p class=\"none\">None.</p>\n");
        return;
    }
    let _ = write!(out, "<table class=\"{class}\">\n<thead><tr>");
    for h in &table.headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", html_cell(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A `<section>` with its heading, around what `body` writes.
fn html_section(out: &mut String, heading: &str, body: impl FnOnce(&mut String)) {
    let _ = writeln!(out, "<section>\n<h2>{}</h2>", escape(heading));
    body(out);
    out.push_str("</section>\n");
}

pub fn html(r: &Review) -> String {
    let i = &r.incident;
    let title = escape(title_of(r));
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>Access review: {title}</title>");
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");

    let _ = writeln!(
        out,
        "<header>\n<h1>Access review: {title}</h1>\n<p class=\"sub\">{} incident <span class=\"mono\">{}</span> · {} · {} binding(s) · {} event(s)</p>\n</header>",
        escape(&i.source),
        escape(&i.id),
        badge(&i.status),
        r.bindings.len(),
        r.events.len()
    );

    html_section(&mut out, "Incident", |out| {
        out.push_str("<table class=\"kv\">\n<tbody>\n");
        for (k, v) in incident_fields(r) {
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(k),
                html_cell(&v)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    });

    html_section(&mut out, "Timeline", |out| {
        out.push_str("<figure>\n");
        timeline(out, r);
        out.push_str("</figure>\n");
    });

    html_section(&mut out, "Lifecycle", |out| {
        html_table(out, "lifecycle", &lifecycle_table(r));
    });

    html_section(&mut out, "Access granted", |out| {
        html_table(out, "bindings", &bindings_table(r));
        for b in &r.bindings {
            let _ = writeln!(
                out,
                "<div class=\"binding-detail\">\n<h3>{} for {} <span class=\"muted mono\">({})</span></h3>\n<dl class=\"fields\">",
                escape(&b.role),
                escape(&b.requester),
                escape(&b.id)
            );
            for (k, v) in binding_fields(b) {
                let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), html_cell(&v));
            }
            out.push_str("</dl>\n");
            match b.policy.as_deref() {
                Some(policy) => {
                    let _ = writeln!(
                        out,
                        "<p><strong>Policy</strong></p>\n<pre class=\"policy\">{}</pre>",
                        escape(policy)
                    );
                }
                None => out.push_str("<p class=\"none\">No policy recorded.</p>\n"),
            }
            out.push_str("</div>\n");
        }
    });

    html_section(&mut out, "Events", |out| {
        html_table(out, "events", &events_table(r));
    });

    html_section(&mut out, "Evidence chain", |out| {
        let verify = verify_command(r).map_or_else(
            || "<span class=\"none\">no command given</span>".to_owned(),
            |command| format!("<code>{}</code>", escape(command)),
        );
        let _ = writeln!(
            out,
            "<p>{} Verify the whole chain with {verify}.</p>",
            escape(&chain_sentence(r))
        );
    });

    let _ = writeln!(
        out,
        "<footer>Generated by breakglass at <time datetime=\"{}\">{}</time>. All times UTC.</footer>\n</body>\n</html>",
        escape(&rfc(r.generated_at)),
        escape(&short(r.generated_at))
    );
    out
}

// ---------------------------------------------------------------------------------------------
// SVG timeline
// ---------------------------------------------------------------------------------------------

const SVG_W: f64 = 920.0;
/// Where the plot starts (row labels to the left) and ends.
const PLOT_X0: f64 = 292.0;
const PLOT_X1: f64 = 885.0;
/// The axis labels.
const AXIS_H: f64 = 36.0;
const ROW_H: f64 = 28.0;
const LABEL_CHARS: usize = 40;

const C_OPEN: &str = "#d9534f";
const C_ACK: &str = "#f0ad4e";
const C_RESOLVED: &str = "#8fb38f";
const C_OTHER: &str = "#b0b0b0";
const C_WAIT: &str = "#a9c8e8";
const C_HELD: &str = "#2b6cb0";
const C_REVOKE: &str = "#7a1f1f";
/// The revoking bars: hatched, outlined.
const REVOKE_FILL: &str = "url(#bg-hatch)";
const REVOKE_EXTRA: &str = " stroke=\"#3d0b0b\" stroke-width=\"0.8\"";
/// The expiry ticks' and the resolved marker's strokes.
const EXPIRY_STROKE: &str = "stroke=\"#111111\" stroke-width=\"2\"";
const RESOLVED_STROKE: &str = "stroke=\"#333333\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"";

fn phase_colour(status: &str) -> &'static str {
    match status {
        "open" | "triggered" => C_OPEN,
        "acknowledged" => C_ACK,
        "resolved" => C_RESOLVED,
        _ => C_OTHER,
    }
}

/// Maps times to x, clamped to the window.
struct Axis {
    start: i64,
    end: i64,
}

impl Axis {
    fn new(w: Window) -> Self {
        let start = w.start.timestamp_millis();
        let end = w.end.timestamp_millis().max(start + 60_000);
        Self { start, end }
    }

    fn x_ms(&self, ms: i64) -> f64 {
        let ratio = (ms - self.start) as f64 / (self.end - self.start) as f64;
        PLOT_X0 + ratio.clamp(0.0, 1.0) * (PLOT_X1 - PLOT_X0)
    }

    fn x(&self, t: DateTime<Utc>) -> f64 {
        self.x_ms(t.timestamp_millis())
    }

    fn end_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.end).unwrap_or_else(Utc::now)
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        (self.start..=self.end).contains(&t.timestamp_millis())
    }

    /// The x range of `from..until`, or `None` if it lies wholly outside the window.
    fn span(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<(f64, f64)> {
        let (a, b) = (
            from.timestamp_millis(),
            until.timestamp_millis().max(from.timestamp_millis()),
        );
        if b < self.start || a > self.end {
            return None;
        }
        Some((self.x_ms(a), self.x_ms(b)))
    }

    /// 4 to 8 ticks at round times, else 6 evenly spaced ones.
    fn ticks(&self) -> Vec<i64> {
        const STEPS_S: [i64; 24] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200,
            86_400, 172_800, 345_600, 604_800, 1_209_600, 2_419_200, 4_838_400,
        ];
        for step_s in STEPS_S {
            let step = step_s * 1000;
            let first = self.start.div_euclid(step) * step
                + if self.start.rem_euclid(step) == 0 {
                    0
                } else {
                    step
                };
            let count = if first > self.end {
                0
            } else {
                (self.end - first) / step + 1
            };
            if count <= 8 {
                if count >= 4 {
                    return (0..count).map(|k| first + k * step).collect();
                }
                break;
            }
        }
        (0..=5)
            .map(|k| self.start + (self.end - self.start) * k / 5)
            .collect()
    }
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.replace(['\r', '\n', '\t'], " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn rect(
    out: &mut String,
    (xa, xb): (f64, f64),
    y: f64,
    h: f64,
    fill: &str,
    extra: &str,
    title: &str,
) {
    let w = (xb - xa).max(2.0);
    let _ = writeln!(
        out,
        "<rect x=\"{xa:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\"{extra}><title>{}</title></rect>",
        escape(title)
    );
}

fn timeline(out: &mut String, r: &Review) {
    let axis = Axis::new(r.window);
    let rows = 1 + r.bindings.len();
    let top = AXIS_H;
    let bottom = top + rows as f64 * ROW_H;
    let legend_y = bottom + 34.0;
    let height = legend_y + 16.0;

    let _ = writeln!(
        out,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {SVG_W} {height:.0}\" width=\"100%\" role=\"img\" aria-label=\"Timeline of incident {} and its access bindings\">",
        escape(&r.incident.id)
    );
    let _ = writeln!(
        out,
        "<title>Timeline: {} to {} (UTC)</title>",
        escape(&rfc(r.window.start)),
        escape(&rfc(axis.end_time()))
    );
    let _ = writeln!(
        out,
        "<defs><pattern id=\"bg-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"{C_REVOKE}\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ffffff\" stroke-width=\"2\"/></pattern></defs>"
    );

    // Rows' separators and labels' column.
    for k in 0..=rows {
        let y = top + k as f64 * ROW_H;
        let _ = writeln!(
            out,
            "<line x1=\"0\" y1=\"{y:.1}\" x2=\"{SVG_W}\" y2=\"{y:.1}\" stroke=\"#e2e2e2\" stroke-width=\"1\"/>"
        );
    }

    // Axis: ticks and grid lines.
    let ticks = axis.ticks();
    let with_seconds = ticks.iter().any(|ms| ms % 60_000 != 0);
    let mut last_date = String::new();
    let _ = writeln!(
        out,
        "<text class=\"tick\" x=\"6\" y=\"27\">Time (UTC)</text>"
    );
    for ms in ticks {
        let Some(t) = DateTime::from_timestamp_millis(ms) else {
            continue;
        };
        let x = axis.x_ms(ms);
        let date = t.format("%Y-%m-%d").to_string();
        if date != last_date {
            let _ = writeln!(
                out,
                "<text class=\"tick\" x=\"{x:.1}\" y=\"12\" text-anchor=\"middle\">{}</text>",
                escape(&date)
            );
            last_date = date;
        }
        let label = if with_seconds || t.second() != 0 {
            t.format("%H:%M:%S").to_string()
        } else {
            t.format("%H:%M").to_string()
        };
        let _ = writeln!(
            out,
            "<text class=\"tick\" x=\"{x:.1}\" y=\"27\" text-anchor=\"middle\">{}</text>",
            escape(&label)
        );
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#d4d4d4\" stroke-width=\"1\"/>",
            top - 4.0
        );
    }

    // The incident's band.
    let y = top;
    let _ = writeln!(
        out,
        "<g class=\"incident\">\n<text x=\"6\" y=\"{:.1}\" font-weight=\"600\">Incident</text>",
        y + ROW_H / 2.0 + 4.0
    );
    for p in &r.lifecycle {
        let until = p.until.unwrap_or_else(|| axis.end_time());
        let Some(span) = axis.span(p.from, until) else {
            continue;
        };
        let lasted = match p.until {
            Some(u) => format!("until {} ({})", rfc(u), human_duration(span_ms(p.from, u))),
            None => "ongoing".to_owned(),
        };
        let title = format!("{} from {} {lasted}", p.status, rfc(p.from));
        rect(
            out,
            span,
            y + 5.0,
            ROW_H - 10.0,
            phase_colour(&p.status),
            "",
            &title,
        );
        let width = span.1 - span.0;
        let text = truncate(&p.status, 20);
        if width > text.chars().count() as f64 * 7.0 + 8.0 {
            let _ = writeln!(
                out,
                "<text class=\"small\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                span.0 + width / 2.0,
                y + ROW_H / 2.0 + 4.0,
                escape(&text)
            );
        }
    }
    out.push_str("</g>\n");

    // One row per binding.
    for (k, b) in r.bindings.iter().enumerate() {
        let y = top + (k + 1) as f64 * ROW_H;
        let full_label = format!("{} · {}", b.role, b.requester);
        let _ = writeln!(
            out,
            "<g class=\"binding\" data-binding=\"{}\">\n<text x=\"6\" y=\"{:.1}\"><title>{}</title>{}</text>",
            escape(&b.id),
            y + ROW_H / 2.0 + 4.0,
            escape(&full_label),
            escape(&truncate(&full_label, LABEL_CHARS))
        );

        // Waiting: request to grant (or to the end, if never granted).
        let wait_end = b
            .granted_at
            .or(b.revocation_started_at)
            .or(b.revoked_at)
            .unwrap_or_else(|| axis.end_time());
        if let Some(span) = axis.span(b.requested_at, wait_end) {
            let title = match b.granted_at {
                Some(g) => format!(
                    "Waiting: requested {}, granted {} ({})",
                    rfc(b.requested_at),
                    rfc(g),
                    human_duration(span_ms(b.requested_at, g))
                ),
                None => format!("Waiting: requested {}, never granted", rfc(b.requested_at)),
            };
            rect(out, span, y + ROW_H / 2.0 - 2.5, 5.0, C_WAIT, "", &title);
        }

        // Held: grant to the decision to revoke.
        if let Some(granted) = b.granted_at {
            let held_end = b
                .revocation_started_at
                .or(b.revoked_at)
                .or(b.expires_at)
                .unwrap_or_else(|| axis.end_time());
            if let Some(span) = axis.span(granted, held_end) {
                let until = match (b.revocation_started_at, b.revoked_at) {
                    (Some(t), _) => format!("revocation started {}", rfc(t)),
                    (None, Some(t)) => format!("removed {}", rfc(t)),
                    (None, None) => match b.expires_at {
                        Some(t) => format!("still active, expires {}", rfc(t)),
                        None => "still active".to_owned(),
                    },
                };
                let held = b
                    .durations
                    .held_ms
                    .map(|ms| format!(" (held {})", human_duration(ms)))
                    .unwrap_or_default();
                let title = format!("Access held: granted {}, {until}{held}", rfc(granted));
                rect(out, span, y + 6.0, ROW_H - 12.0, C_HELD, "", &title);
            }
        }

        // Revoking: decision to IAM-confirmed removal.
        if let Some(started) = b.revocation_started_at {
            let until = b.revoked_at.unwrap_or_else(|| axis.end_time());
            if let Some(span) = axis.span(started, until) {
                let title = match b.revoked_at {
                    Some(t) => format!(
                        "Revoking: started {}, IAM confirmed removal {} ({})",
                        rfc(started),
                        rfc(t),
                        human_duration(span_ms(started, t))
                    ),
                    None => format!("Revoking: started {}, removal not confirmed", rfc(started)),
                };
                rect(
                    out,
                    span,
                    y + 4.0,
                    ROW_H - 8.0,
                    REVOKE_FILL,
                    REVOKE_EXTRA,
                    &title,
                );
            }
        }

        // Expiry tick.
        if let Some(exp) = b.expires_at.filter(|t| axis.contains(*t)) {
            let x = axis.x(exp);
            let _ = writeln!(
                out,
                "<line class=\"expiry\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" {EXPIRY_STROKE}><title>{}</title></line>",
                y + 2.0,
                y + ROW_H - 2.0,
                escape(&format!("Expires {}", rfc(exp)))
            );
        }
        out.push_str("</g>\n");
    }

    // Resolved marker.
    if let Some(resolved) = r.incident.resolved_at {
        let x = axis.x(resolved);
        let _ = writeln!(
            out,
            "<g class=\"resolved\"><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" {RESOLVED_STROKE}><title>{}</title></line><text class=\"small\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">resolved</text></g>",
            top - 4.0,
            bottom + 4.0,
            escape(&format!("Resolved {}", rfc(resolved))),
            bottom + 16.0
        );
    }

    // Legend.
    let mut x = 6.0;
    out.push_str("<g class=\"legend\">\n");
    let items: [(&str, &str, &str); 6] = [
        ("Open", C_OPEN, ""),
        ("Acknowledged", C_ACK, ""),
        ("Resolved", C_RESOLVED, ""),
        ("Waiting for grant", C_WAIT, ""),
        ("Access held", C_HELD, ""),
        ("Revoking", REVOKE_FILL, REVOKE_EXTRA),
    ];
    for (label, fill, extra) in items {
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"{fill}\"{extra}/><text class=\"small\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            legend_y - 9.0,
            x + 18.0,
            legend_y,
            escape(label)
        );
        x += 18.0 + label.chars().count() as f64 * 6.0 + 16.0;
    }
    for (label, stroke) in [
        ("Expires", EXPIRY_STROKE),
        ("Incident resolved", RESOLVED_STROKE),
    ] {
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" {stroke}/><text class=\"small\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 6.0,
            legend_y - 11.0,
            x + 6.0,
            legend_y + 2.0,
            x + 14.0,
            legend_y,
            escape(label)
        );
        x += 14.0 + label.chars().count() as f64 * 6.0 + 16.0;
    }
    out.push_str("</g>\n</svg>\n");
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::model::{
        BindingReview, ChainStatus, Durations, IncidentSummary, Phase, Review, ReviewEvent, Window,
    };
    use super::*;

    const LINK: &str = "https://acme.pagerduty.com/incidents/Q2K7PXM";
    const FORMULA: &str = "=cmd|' /C calc'!A0";

    fn t(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
            + chrono::Duration::milliseconds(ms.into())
    }

    fn event(
        seq: u64,
        at: DateTime<Utc>,
        kind: &str,
        actor: &str,
        binding: &str,
        summary: &str,
    ) -> ReviewEvent {
        ReviewEvent {
            seq: Some(seq),
            shard: 3,
            id: format!("{}-0", at.timestamp_millis()),
            at: rfc(at),
            kind: kind.into(),
            actor: actor.into(),
            source: "breakglass".into(),
            binding: binding.into(),
            summary: summary.into(),
            since_open_ms: Some(span_ms(t(9, 0, 0, 0), at)),
            hash: Some(format!("{seq:064x}")),
            data: serde_json::json!({ "seq": seq }),
        }
    }

    fn sample() -> Review {
        let opened = t(9, 0, 0, 0);
        let acked = t(9, 4, 12, 0);
        let resolved = t(10, 31, 45, 0);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DescribeDBInstances","logs:GetLogEvents"],"Resource":"*"}]}"#;
        let auto = BindingReview {
            id: "bnd_01HXA1".into(),
            role: "prod-readonly".into(),
            requester: "alice@example.com".into(),
            principal_arn: "arn:aws:iam::111122223333:role/sso/alice".into(),
            reason: FORMULA.into(),
            approval: "auto".into(),
            approved_by: None,
            policy: Some(policy.into()),
            managed_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            permissions_boundary: Some("arn:aws:iam::111122223333:policy/breakglass-boundary".into()),
            role_name: "breakglass-bnd_01HXA1".into(),
            role_arn: Some("arn:aws:iam::111122223333:role/breakglass/breakglass-bnd_01HXA1".into()),
            status: "revoked".into(),
            requested_at: t(9, 6, 0, 0),
            approved_at: Some(t(9, 6, 0, 0)),
            granted_at: Some(t(9, 6, 3, 200)),
            expires_at: Some(t(11, 6, 3, 200)),
            revocation_started_at: Some(t(10, 31, 46, 100)),
            sessions_denied_before: Some(t(10, 31, 46, 400)),
            revoked_at: Some(t(10, 31, 52, 500)),
            end_reason: Some("incident_resolved".into()),
            ended_by: Some("pagerduty".into()),
            how: Some(
                "session-ending deny, inline policy breakglass-grant deleted, role deleted (IAM confirmed)"
                    .into(),
            ),
            failed_attempts: 0,
            durations: Durations {
                request_to_grant_ms: Some(3_200),
                held_ms: Some(span_ms(t(9, 6, 3, 200), t(10, 31, 52, 500))),
                revocation_ms: Some(6_400),
                resolve_to_removed_ms: Some(7_500),
            },
        };
        let peer = BindingReview {
            id: "bnd_01HXB7".into(),
            role: "prod-db-admin".into(),
            requester: "bob@example.com".into(),
            principal_arn: "arn:aws:iam::111122223333:role/sso/bob".into(),
            reason: "Failover | replica lag on orders-db".into(),
            approval: "peer".into(),
            approved_by: Some("carol@example.com".into()),
            policy: Some("not json ``` } trailing".into()),
            managed_policies: vec![],
            permissions_boundary: None,
            role_name: "breakglass-bnd_01HXB7".into(),
            role_arn: Some(
                "arn:aws:iam::111122223333:role/breakglass/breakglass-bnd_01HXB7".into(),
            ),
            status: "revoked".into(),
            requested_at: t(9, 20, 0, 0),
            approved_at: Some(t(9, 24, 0, 0)),
            granted_at: Some(t(9, 24, 5, 0)),
            expires_at: Some(t(10, 24, 5, 0)),
            revocation_started_at: Some(t(10, 24, 5, 300)),
            sessions_denied_before: Some(t(10, 24, 5, 600)),
            revoked_at: Some(t(10, 24, 9, 0)),
            end_reason: Some("expired".into()),
            ended_by: Some("breakglass:scheduler".into()),
            how: Some("session-ending deny, role deleted (IAM confirmed)".into()),
            failed_attempts: 1,
            durations: Durations {
                request_to_grant_ms: Some(245_000),
                held_ms: Some(3_604_000),
                revocation_ms: Some(3_700),
                resolve_to_removed_ms: None,
            },
        };
        let events = vec![
            event(
                1,
                opened,
                "webhook.applied",
                "pagerduty",
                "",
                "incident.triggered: incident opened",
            ),
            event(
                2,
                acked,
                "webhook.applied",
                "pagerduty",
                "",
                "incident.acknowledged by alice@example.com",
            ),
            event(
                3,
                t(9, 6, 0, 0),
                "elevation.requested",
                "alice@example.com",
                "bnd_01HXA1",
                "prod-readonly requested, auto-approved",
            ),
            event(
                4,
                t(9, 6, 3, 200),
                "binding.granted",
                "breakglass",
                "bnd_01HXA1",
                "role created",
            ),
            event(
                5,
                t(9, 20, 0, 0),
                "elevation.requested",
                "bob@example.com",
                "bnd_01HXB7",
                "prod-db-admin requested, waiting for a peer",
            ),
            event(
                6,
                t(9, 24, 0, 0),
                "elevation.approved",
                "carol@example.com",
                "bnd_01HXB7",
                "approved",
            ),
            event(
                7,
                t(9, 24, 5, 0),
                "binding.granted",
                "breakglass",
                "bnd_01HXB7",
                "role created",
            ),
            event(
                8,
                t(10, 24, 9, 0),
                "binding.revoked",
                "breakglass:scheduler",
                "bnd_01HXB7",
                "expired; role deleted",
            ),
            event(
                9,
                resolved,
                "webhook.applied",
                "pagerduty",
                "",
                "incident.resolved",
            ),
            event(
                10,
                t(10, 31, 52, 500),
                "binding.revoked",
                "pagerduty",
                "bnd_01HXA1",
                "incident resolved; role deleted",
            ),
        ];
        Review {
            generated_at: t(12, 0, 0, 0),
            incident: IncidentSummary {
                id: "Q2K7PXM".into(),
                source: "pagerduty".into(),
                title: Some("Checkout latency above SLO".into()),
                service: Some("checkout-api".into()),
                teams: vec!["payments".into()],
                priority: Some("P1".into()),
                link: Some(LINK.into()),
                status: "resolved".into(),
                opened_at: opened,
                acknowledged_at: Some(acked),
                resolved_at: Some(resolved),
                duration_ms: Some(span_ms(opened, resolved)),
                responders: vec!["alice@example.com".into(), "bob@example.com".into()],
                former_responders: vec!["dave@example.com".into()],
            },
            lifecycle: vec![
                Phase {
                    status: "open".into(),
                    from: opened,
                    until: Some(acked),
                    kind: "incident.triggered".into(),
                },
                Phase {
                    status: "acknowledged".into(),
                    from: acked,
                    until: Some(resolved),
                    kind: "incident.acknowledged".into(),
                },
                Phase {
                    status: "resolved".into(),
                    from: resolved,
                    until: None,
                    kind: "incident.resolved".into(),
                },
            ],
            bindings: vec![auto, peer],
            events,
            chain: ChainStatus {
                sealed: 9,
                unsealed: 1,
                archived: 0,
                verify_with: "breakglass audit verify --shard 3".into(),
            },
            window: Window {
                start: opened,
                end: t(10, 31, 52, 500),
            },
        }
    }

    fn hostile() -> Review {
        let mut r = sample();
        r.incident.title = Some("<script>alert(1)</script>".into());
        r.incident.service = Some("\"><img src=x onerror=alert(1)>".into());
        r.bindings[0].requester = "\"><img src=x onerror=alert(1)>".into();
        r.bindings[1].role = "'><svg onload=alert(1)>".into();
        r.events[0].summary = "</td><script>alert(2)</script>".into();
        r.chain.verify_with = "<script>x</script>".into();
        r
    }

    fn empty() -> Review {
        let opened = t(9, 0, 0, 0);
        Review {
            generated_at: opened,
            incident: IncidentSummary {
                id: "OG-42".into(),
                source: "opsgenie".into(),
                title: None,
                service: None,
                teams: vec![],
                priority: None,
                link: Some("javascript:alert(1)".into()),
                status: "open".into(),
                opened_at: opened,
                acknowledged_at: None,
                resolved_at: None,
                duration_ms: Some(0),
                responders: vec![],
                former_responders: vec![],
            },
            lifecycle: vec![Phase {
                status: "open".into(),
                from: opened,
                until: None,
                kind: "Create".into(),
            }],
            bindings: vec![],
            events: vec![],
            chain: ChainStatus::default(),
            window: Window {
                start: opened,
                end: opened,
            },
        }
    }

    fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    #[test]
    fn csv_parses_back_with_one_row_per_thing() {
        let r = sample();
        let text = csv(&r);
        assert!(!text.starts_with('\u{feff}'), "no BOM");
        let (header, rows) = parse_csv(&text);
        assert_eq!(header, CSV_COLUMNS);
        assert!(rows.iter().all(|row| row.len() == CSV_COLUMNS.len()));
        let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
        let section = |s: &str| rows.iter().filter(|row| row[0] == s).collect::<Vec<_>>();
        assert_eq!(section("incident").len(), 1);
        assert_eq!(section("phase").len(), r.lifecycle.len());
        assert_eq!(section("binding").len(), r.bindings.len());
        assert_eq!(section("event").len(), r.events.len());

        let bindings = section("binding");
        let auto = bindings
            .iter()
            .find(|row| row[col("binding")] == "bnd_01HXA1")
            .unwrap();
        assert!(
            auto[col("reason")].starts_with("'="),
            "{}",
            auto[col("reason")]
        );
        assert_eq!(auto[col("reason")], format!("'{FORMULA}"));
        assert_eq!(auto[col("at")], "2024-05-01T09:06:00.000Z");
        assert_eq!(auto[col("granted_at")], "2024-05-01T09:06:03.200Z");
        assert_eq!(auto[col("request_to_grant_s")], "3.200");
        assert_eq!(auto[col("resolve_to_removed_s")], "7.500");
        assert_eq!(auto[col("type")], "revoked");
        let peer = bindings
            .iter()
            .find(|row| row[col("binding")] == "bnd_01HXB7")
            .unwrap();
        assert_eq!(peer[col("approved_by")], "carol@example.com");
        assert_eq!(peer[col("held_s")], "3604.000");
        assert_eq!(peer[col("resolve_to_removed_s")], "");
        assert_eq!(peer[col("end_reason")], "expired");

        let events = section("event");
        assert_eq!(events[0][col("seq")], "1");
        assert_eq!(events[0][col("type")], "webhook.applied");
        assert_eq!(
            section("incident")[0][col("at")],
            "2024-05-01T09:00:00.000Z"
        );
    }

    #[test]
    fn csv_guards_every_text_cell() {
        for hostile in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(formula_guard(hostile), format!("'{hostile}"));
        }
        assert_eq!(formula_guard("alice@example.com"), "alice@example.com");
        let mut r = sample();
        r.events[0].actor = "@evil".into();
        r.events[0].summary = "-1+1".into();
        r.incident.status = "+status".into();
        let (_, rows) = parse_csv(&csv(&r));
        let event = rows.iter().find(|row| row[0] == "event").unwrap();
        assert_eq!(event[4], "'@evil");
        assert_eq!(event[26], "'-1+1");
        assert_eq!(rows[0][3], "'+status");
    }

    #[test]
    fn markdown_has_every_section_and_escapes_cells() {
        let md = markdown(&sample());
        for heading in [
            "# Access review: Checkout latency above SLO",
            "## Lifecycle",
            "## Access granted",
            "### prod-readonly for alice@example.com (bnd_01HXA1)",
            "### prod-db-admin for bob@example.com (bnd_01HXB7)",
            "## Events",
            "## Evidence chain",
        ] {
            assert!(
                md.lines().any(|l| l == heading),
                "missing {heading:?}\n{md}"
            );
        }
        assert!(md.contains("Failover \\| replica lag on orders-db"));
        assert!(md.contains("=cmd\\|' /C calc'!A0"));
        assert!(!md.contains("None."), "nothing is empty in the sample");
        // The JSON policy is shown exactly as granted, in a json fence.
        assert!(md.contains("```json\n{\""));
        // The non-JSON policy holds ``` so its fence is longer.
        assert!(md.contains("````text\nnot json ``` } trailing\n````\n"));
        assert!(md.contains("`breakglass audit verify --shard 3`"));
        // Every table row has as many cells as its header.
        for line in md.lines().filter(|l| l.starts_with("| Seq")) {
            assert_eq!(line.matches(" | ").count(), 5);
        }
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        let mut r = sample();
        r.bindings[0].reason = "line one\nline two | three\r\n# not a heading".into();
        r.bindings[0].policy = Some("````\n# escaped?\n````".into());
        let md = markdown(&r);
        assert!(md.contains("| line one line two \\| three # not a heading |"));
        assert!(!md.lines().any(|l| l == "# not a heading"));
        assert!(md.contains("`````text\n````\n# escaped?\n````\n`````\n"));
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let r = hostile();
        let html = html(&r);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert_eq!(html.matches("<style>").count(), 1);
        assert!(html.contains("<svg"));
        assert!(html.contains(&format!("viewBox=\"0 0 {SVG_W} ")));
        assert!(!html.to_ascii_lowercase().contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<svg onload"));
        assert!(!html.contains("\"><img") && !html.contains("'><svg"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&#39;&gt;&lt;svg onload=alert(1)&gt;"));
        assert_eq!(
            html.matches("<g class=\"binding\"").count(),
            r.bindings.len()
        );
        // Nothing is loaded from anywhere.
        for forbidden in [
            "<link",
            "<iframe",
            "<object",
            "<embed",
            "<img",
            "@import",
            "url(http",
            "@font-face",
        ] {
            assert!(!html.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn html_only_links_to_the_incident() {
        let html = html(&sample());
        const XMLNS: &str = "http://www.w3.org/2000/svg";
        let mut seen = 0;
        for (at, _) in html.match_indices("http") {
            let rest = &html[at..];
            assert!(
                rest.starts_with(LINK) || rest.starts_with(XMLNS),
                "stray URL at {}",
                &rest[..rest.len().min(60)]
            );
            seen += 1;
        }
        assert_eq!(seen, 3, "href, link text, xmlns");
        assert!(html.contains(&format!("<a href=\"{LINK}\"")));
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(!html.to_ascii_lowercase().contains("<script"));
        // The timeline has the incident band, a resolved marker and a legend; bars have tooltips.
        assert!(html.contains(">Incident</text>"));
        assert!(html.contains(">resolved</text>"));
        assert!(html.contains("class=\"legend\""));
        assert!(html.contains("<title>Access held: granted 2024-05-01T09:06:03.200Z"));
        assert!(html.contains("<title>Revoking: started 2024-05-01T10:31:46.100Z"));
        assert!(html.contains("<title>Expires 2024-05-01T10:24:05.000Z</title>"));
        assert!(html.contains("<pre class=\"policy\">{&quot;"));
    }

    #[test]
    fn html_does_not_link_other_schemes() {
        let html = html(&empty());
        assert!(!html.contains("<a "));
        assert!(html.contains("javascript:alert(1)"));
    }

    #[test]
    fn timeline_axis_has_four_to_eight_ticks() {
        let start = t(9, 0, 0, 0);
        for span_ms in [
            0,
            1,
            59_999,
            60_000,
            90_000,
            600_000,
            3_600_000,
            5_512_500,
            86_400_000,
            3 * 86_400_000,
            400 * 86_400_000_i64,
        ] {
            let axis = Axis::new(Window {
                start,
                end: start + chrono::Duration::milliseconds(span_ms),
            });
            let ticks = axis.ticks();
            assert!((4..=8).contains(&ticks.len()), "{span_ms}: {ticks:?}");
            assert!(ticks.iter().all(|ms| (axis.start..=axis.end).contains(ms)));
            assert!(ticks.windows(2).all(|w| w[0] < w[1]));
        }
        let axis = Axis::new(Window { start, end: start });
        assert_eq!(axis.x(start), PLOT_X0);
        assert_eq!(axis.x(start - chrono::Duration::hours(1)), PLOT_X0);
        assert_eq!(axis.x(start + chrono::Duration::hours(1)), PLOT_X1);
        assert_eq!(truncate(&"x".repeat(50), 40).chars().count(), 40);
        assert!(truncate(&"x".repeat(50), 40).ends_with('…'));
    }

    #[test]
    fn an_empty_review_renders_in_every_format() {
        let r = empty();
        let (header, rows) = parse_csv(&csv(&r));
        assert_eq!(header.len(), CSV_COLUMNS.len());
        assert_eq!(rows.len(), 2, "the incident and its open phase");
        let md = markdown(&r);
        assert!(md.starts_with("# Access review: OG-42\n"));
        assert_eq!(md.matches("None.").count(), 2, "{md}");
        let html = html(&r);
        assert!(html.contains("<svg"));
        assert_eq!(html.matches("<g class=\"binding\"").count(), 0);
        assert!(!html.contains(">resolved</text>"));
        assert!(html.ends_with("</html>\n"));
    }
}
