//! The review as one self-contained HTML page: the incident, a timeline of it and its bindings
//! ([`super::timeline`]), the same tables as the Markdown report, and each policy as granted.
//! The page has no scripts and loads nothing.

use std::fmt::Write as _;

use super::tables::{self, Cell, Table};
use super::{chain_sentence, rfc, short, timeline::timeline, title_of, verify_command};
use crate::review::model::Review;

/// HTML-escapes text for element content and quoted attribute values.
pub(super) fn escape(s: &str) -> String {
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
        for (k, v) in tables::incident_fields(r) {
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
        html_table(out, "lifecycle", &tables::lifecycle_table(r));
    });

    html_section(&mut out, "Access granted", |out| {
        html_table(out, "bindings", &tables::bindings_table(r));
        for b in &r.bindings {
            let _ = writeln!(
                out,
                "<div class=\"binding-detail\">\n<h3>{} for {} <span class=\"muted mono\">({})</span></h3>\n<dl class=\"fields\">",
                escape(&b.role),
                escape(&b.requester),
                escape(&b.id)
            );
            for (k, v) in tables::binding_fields(b) {
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
        html_table(out, "events", &tables::events_table(r));
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
