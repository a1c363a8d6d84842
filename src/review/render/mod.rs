//! Rendering a [`Review`] as CSV, Markdown and HTML (JSON is serde's).
//!
//! Every piece of text in a review may come from a webhook or a user, so each format escapes
//! it its own way: CSV cells are quoted by the `csv` crate and guarded against formula
//! injection ([`csv`]), Markdown table cells and fences cannot be broken out of
//! ([`markdown`]), and the HTML page and its SVG timeline are written with maud, which
//! escapes every value it splices in ([`html`], [`timeline`]); the page has no scripts and
//! loads nothing.
//!
//! The Markdown and HTML reports show the same tables: each is built once, as
//! [`tables::Table`]s and field lists of typed [`tables::Cell`]s, and each format only escapes
//! and marks up the cells. This module holds the wording that every format shares.

mod csv;
mod html;
mod markdown;
mod tables;
mod timeline;

#[cfg(test)]
mod tests;

pub use self::csv::csv;
pub use self::html::html;
pub use self::markdown::markdown;

use chrono::{DateTime, SecondsFormat, Utc};

use super::model::Review;

/// Shown where a value is missing.
const NONE: &str = "—";

/// RFC 3339, UTC, milliseconds, `Z`.
fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
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

fn span_ms(from: DateTime<Utc>, until: DateTime<Utc>) -> i64 {
    (until - from).num_milliseconds()
}

/// The incident's title, else its id.
fn title_of(r: &Review) -> &str {
    r.incident
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(&r.incident.id)
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
