//! The review as one self-contained HTML page: the incident, a timeline of it and its bindings
//! ([`super::timeline`]), the same tables as the Markdown report, and each policy as granted.
//!
//! Written with maud, which escapes every value it splices into text or an attribute. The only
//! markup not escaped is our own style sheet (`review.css`); the page has no scripts and loads
//! nothing.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::tables::{self, Cell, Table};
use super::{chain_sentence, rfc, short, timeline, title_of, verify_command};
use crate::review::model::{BindingReview, Review};

/// The page's style, inlined because the page may load nothing (the API serves it under a CSP
/// of `default-src 'none'`).
const STYLE: &str = include_str!("review.css");

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

fn badge(status: &str) -> Markup {
    html! { span class={ "badge " (status_class(status)) } { (status) } }
}

/// A link only for http(s) URLs; anything else (`javascript:`, ...) is text.
fn link(url: &str) -> Markup {
    let trimmed = url.trim_start();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        html! { a href=(trimmed) rel="noopener noreferrer" { (trimmed) } }
    } else {
        html! { (url) }
    }
}

/// A cell, marked up for what it is.
fn cell(cell: &Cell) -> Markup {
    match cell {
        Cell::Text(s) => html! { (s) },
        Cell::Status(s) => badge(s),
        Cell::Mono(s) => html! { span class="mono" { (s) } },
        Cell::Link(s) => link(s),
        Cell::Hash(Some(hash)) => {
            let shortened: String = hash.chars().take(12).collect();
            let more = if hash.chars().count() > 12 { "…" } else { "" };
            html! { code title=(hash) { (shortened) (more) } }
        }
        Cell::Hash(None) => html! { span class="none" { "unsealed" } },
    }
}

/// The table; a line saying so if it has no rows.
fn table(class: &str, table: &Table) -> Markup {
    if table.rows.is_empty() {
        return html! { p class="none" { "None." } };
    }
    html! {
        table class=(class) {
            thead { tr { @for header in &table.headers { th { (header) } } } }
            tbody {
                @for row in &table.rows {
                    tr { @for c in row { td { (cell(c)) } } }
                }
            }
        }
    }
}

fn section(heading: &str, body: Markup) -> Markup {
    html! { section { h2 { (heading) } (body) } }
}

fn header(r: &Review) -> Markup {
    let i = &r.incident;
    html! {
        header {
            h1 { "Access review: " (title_of(r)) }
            p class="sub" {
                (i.source) " incident " span class="mono" { (i.id) } " · " (badge(&i.status))
                " · " (r.bindings.len()) " binding(s) · " (r.events.len()) " event(s)"
            }
        }
    }
}

fn incident(r: &Review) -> Markup {
    html! {
        table class="kv" {
            tbody {
                @for (label, value) in &tables::incident_fields(r) {
                    tr { th { (label) } td { (cell(value)) } }
                }
            }
        }
    }
}

/// Every field of a binding, and its policy as granted.
fn binding_detail(b: &BindingReview) -> Markup {
    html! {
        div class="binding-detail" {
            h3 {
                (b.role) " for " (b.requester) " "
                span class="muted mono" { "(" (b.id) ")" }
            }
            dl class="fields" {
                @for (label, value) in &tables::binding_fields(b) {
                    dt { (label) } dd { (cell(value)) }
                }
            }
            @if let Some(policy) = &b.policy {
                p { strong { "Policy" } }
                pre class="policy" { (policy) }
            } @else {
                p class="none" { "No policy recorded." }
            }
        }
    }
}

fn chain(r: &Review) -> Markup {
    html! {
        p {
            (chain_sentence(r)) " Verify the whole chain with "
            @if let Some(command) = verify_command(r) {
                code { (command) }
            } @else {
                span class="none" { "no command given" }
            }
            "."
        }
    }
}

/// The page, ending in a newline like the other exports.
pub fn html(r: &Review) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Access review: " (title_of(r)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header(r))
                (section("Incident", incident(r)))
                (section("Timeline", html! { figure { (timeline::timeline(r)) } }))
                (section("Lifecycle", table("lifecycle", &tables::lifecycle_table(r))))
                (section("Access granted", html! {
                    (table("bindings", &tables::bindings_table(r)))
                    @for b in &r.bindings { (binding_detail(b)) }
                }))
                (section("Events", table("events", &tables::events_table(r))))
                (section("Evidence chain", chain(r)))
                footer {
                    "Generated by breakglass at "
                    time datetime=(rfc(r.generated_at)) { (short(r.generated_at)) }
                    ". All times UTC."
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}
