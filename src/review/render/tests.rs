//! Tests of the CSV, Markdown and HTML renderers on a hand-made review.

use super::super::model::Window;
use super::csv::{formula_guard, CSV_COLUMNS};
use super::timeline::{truncate, Axis, PLOT_X0, PLOT_X1, SVG_W};
use super::*;

mod samples;

use samples::*;

fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
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
    // maud leaves `'` as is: every attribute it writes is in double quotes.
    assert!(html.contains("'&gt;&lt;svg onload=alert(1)&gt;"));
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

#[test]
fn html_and_svg_escape_every_piece_of_text() {
    let html = html(&everywhere(MARKUP));
    assert!(!html.contains("<b "), "markup came through unescaped");
    assert!(!html.contains("&amp;</b>"));
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    for (part, expected) in [
        (
            "the page title",
            format!("<title>Access review: {MARKUP_ESCAPED}</title>"),
        ),
        (
            "a heading",
            format!("<h3>{MARKUP_ESCAPED} for {MARKUP_ESCAPED} "),
        ),
        ("a table cell", format!("<td>{MARKUP_ESCAPED}</td>")),
        (
            "a monospace cell",
            format!("<span class=\"mono\">{MARKUP_ESCAPED}</span>"),
        ),
        (
            "a hash's tooltip",
            format!("<code title=\"{MARKUP_ESCAPED}\">"),
        ),
        (
            "the link",
            format!("<a href=\"https://example.com/{MARKUP_ESCAPED}\""),
        ),
        (
            "a policy",
            format!("<pre class=\"policy\">{MARKUP_ESCAPED}</pre>"),
        ),
        ("the command", format!("<code>{MARKUP_ESCAPED}</code>")),
    ] {
        assert!(html.contains(&expected), "{part}: no {expected}");
    }
    for (part, expected) in [
        (
            "the label",
            format!("aria-label=\"Timeline of incident {MARKUP_ESCAPED} and"),
        ),
        (
            "a lane's binding",
            format!("data-binding=\"{MARKUP_ESCAPED}\""),
        ),
        (
            "a lane's tooltip",
            format!("<title>{MARKUP_ESCAPED} · {MARKUP_ESCAPED}</title>"),
        ),
        (
            "a phase's tooltip",
            format!("<title>{MARKUP_ESCAPED} from 2024-05-01T"),
        ),
    ] {
        assert!(svg.contains(&expected), "{part}: no {expected}");
    }
    // A status that is not ours styles as "other": its text never becomes a class.
    assert!(html.contains(&format!(
        "<span class=\"badge s-other\">{MARKUP_ESCAPED}</span>"
    )));
    assert!(!html.contains("class=\"badge &lt;"));
}

#[test]
fn every_svg_element_is_closed() {
    // In an HTML page an SVG `<rect ...>` is not void: one left open swallows what follows.
    let html = html(&sample());
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
    for tag in ["rect", "line", "text", "g", "title", "pattern", "defs"] {
        let opened =
            svg.matches(&format!("<{tag} ")).count() + svg.matches(&format!("<{tag}>")).count();
        assert_eq!(opened, svg.matches(&format!("</{tag}>")).count(), "<{tag}>");
        assert!(opened > 0, "{tag}");
    }
    assert!(!svg.contains("/>"));
}
