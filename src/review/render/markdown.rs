//! The review as Markdown, to paste into a review document. Every piece of text goes through
//! [`md`] (table cells, headings, list items) or, where it is code, into a span or a fence that
//! it cannot close ([`md_code`], [`md_fenced`]).

use std::fmt::Write as _;

use super::tables::{self, Cell, Table};
use super::{chain_sentence, short, title_of, verify_command};
use crate::review::model::Review;

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

/// The language of the policy's fence. The policy is always shown exactly as granted
/// (re-serializing would reorder its keys).
fn policy_lang(policy: &str) -> &'static str {
    if serde_json::from_str::<serde::de::IgnoredAny>(policy).is_ok() {
        "json"
    } else {
        "text"
    }
}

pub fn markdown(r: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Access review: {}\n", md(title_of(r)));
    let _ = writeln!(
        out,
        "Generated {} by breakglass. Times are UTC.\n",
        short(r.generated_at)
    );

    let summary = Table::new(
        &["Field", "Value"],
        &tables::incident_fields(r),
        |(k, v)| vec![Cell::Text((*k).to_owned()), v.clone()],
    );
    md_table(&mut out, &summary);

    out.push_str("## Lifecycle\n\n");
    md_table(&mut out, &tables::lifecycle_table(r).without("Reported as"));

    out.push_str("## Access granted\n\n");
    md_table(&mut out, &tables::bindings_table(r));
    for b in &r.bindings {
        let _ = writeln!(
            out,
            "### {} for {} ({})\n",
            md(&b.role),
            md(&b.requester),
            md(&b.id)
        );
        for (k, v) in tables::binding_fields(b) {
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
    md_table(&mut out, &tables::events_table(r).without("Hash"));

    out.push_str("## Evidence chain\n\n");
    let verify = verify_command(r).map_or_else(|| "(no command given)".to_owned(), md_code);
    let _ = writeln!(
        out,
        "{} Verify the whole chain with {verify}.",
        chain_sentence(r)
    );
    out
}
