//! The review export of one fixed audit trail, pinned byte for byte in every format.
//!
//! The incident, its bindings, its audit entries, the chain's seals and `now` are all fixed, so
//! [`super::build`] and the renderers must give exactly the files in `tests/fixtures/review/`.
//! Each payload is written through its writer's type, and each entry is made from its stream
//! fields with [`export::entry`], as [`super::load`] reads them from Redis. The trail holds an
//! event of every type the review has words for ([`super::recorded::KINDS`]) and one it has
//! none for, and text that each format must escape (`<`, `&`, quotes, `|`, formulas, backticks).
//!
//! A change that means to alter an export rewrites the files with
//! `BREAKGLASS_BLESS=1 cargo test --lib review::tests`, and its commit says what changed and why.

use std::path::PathBuf;

mod scene;
mod trail;

use super::render;
use scene::*;
use trail::trail;

use super::{build, Review};
use crate::audit::export::{self, Entry};

/// The entries as `load` reads them: sequence numbers in order, the last two not sealed yet.
fn entries() -> Vec<Entry> {
    let trail = trail();
    let sealed = trail.len() - 2;
    trail
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let seq = 100 + k as u64;
            let fields = [
                ("seq", seq.to_string()),
                ("type", r.kind.to_owned()),
                ("at", rfc(r.at)),
                ("actor", r.actor.to_owned()),
                ("source", r.source.to_owned()),
                ("incident", INCIDENT.to_owned()),
                ("binding", r.binding.to_owned()),
                ("data", r.data.to_string()),
            ];
            let id = format!("{}-{k}", r.at.timestamp_millis());
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            };
            let mut entry = export::entry(SHARD, &id, field).expect("a valid stream id");
            entry.hash = (k < sealed).then(|| {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(format!("fixed seal {seq}")))
            });
            entry
        })
        .collect()
}

fn review() -> Review {
    build(
        &incident(),
        &bindings(),
        &entries(),
        ARCHIVED,
        t(12, 0, 0, 0),
    )
}

/// Compares `actual` with the golden file `name`, or rewrites the file when blessing.
fn golden(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/fixtures/review", name]
        .iter()
        .collect();
    if std::env::var_os("BREAKGLASS_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BREAKGLASS_BLESS=1 writes it)", path.display()));
    if expected == actual {
        return;
    }
    // Where they part (a byte offset both share), and some text either side of it: the HTML
    // export is one long line.
    let at = expected
        .char_indices()
        .zip(actual.chars())
        .find(|((_, e), a)| e != a)
        .map_or(expected.len().min(actual.len()), |((i, _), _)| i);
    let from = expected[..at]
        .char_indices()
        .rev()
        .nth(59)
        .map_or(0, |(i, _)| i);
    let excerpt = |text: &str| text[from..].chars().take(120).collect::<String>();
    panic!(
        "{} differs from the export at line {}, byte {at}:\n  golden: {:?}\n  now:    {:?}\n\
         (BREAKGLASS_BLESS=1 rewrites the golden file if the change is intended)",
        path.display(),
        expected[..at].matches('\n').count() + 1,
        excerpt(&expected),
        excerpt(actual),
    );
}

#[test]
fn the_fixed_trail_holds_every_event_type() {
    let entries = entries();
    for kind in super::recorded::KINDS.into_iter().chain([UNKNOWN]) {
        assert!(entries.iter().any(|e| e.kind == kind), "no {kind} event");
    }
    let review = review();
    assert_eq!(review.bindings.len(), 5);
    assert_eq!(review.chain.unsealed, 2);
    assert_eq!(review.chain.archived, ARCHIVED);
    // Every payload reads back: only the type nobody knows is worded as its bare name.
    for e in &review.events {
        assert_eq!(e.summary == e.kind, e.kind == UNKNOWN, "{}", e.summary);
    }
    // A removal in IAM's steps, one that found the role gone, and one with no IAM record.
    let revoked: Vec<&str> = review
        .events
        .iter()
        .filter(|e| e.kind == "binding.revoked")
        .map(|e| e.summary.as_str())
        .collect();
    assert_eq!(revoked.len(), 3);
    assert!(revoked.contains(&"revoked"));
    assert!(revoked.contains(&"the role was already gone from IAM"));
    assert!(revoked.iter().any(|s| s.contains("(IAM confirmed)")));
}

#[test]
fn json_export_of_the_fixed_trail_is_unchanged() {
    let mut json = serde_json::to_string_pretty(&review()).unwrap();
    json.push('\n');
    golden("review.json", &json);
}

#[test]
fn csv_export_of_the_fixed_trail_is_unchanged() {
    golden("review.csv", &render::csv(&review()));
}

#[test]
fn markdown_export_of_the_fixed_trail_is_unchanged() {
    golden("review.md", &render::markdown(&review()));
}

#[test]
fn html_export_of_the_fixed_trail_is_unchanged() {
    golden("review.html", &render::html(&review()));
}
