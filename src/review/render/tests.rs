//! Tests of the CSV, Markdown and HTML renderers on a hand-made review.

use chrono::TimeZone;

use super::super::model::{
    BindingReview, ChainStatus, Durations, IncidentSummary, Phase, Review, ReviewEvent, Window,
};
use super::csv::{formula_guard, CSV_COLUMNS};
use super::timeline::{truncate, Axis, PLOT_X0, PLOT_X1, SVG_W};
use super::*;

const LINK: &str = "https://acme.pagerduty.com/incidents/Q2K7PXM";
const FORMULA: &str = "=cmd|' /C calc'!A0";

fn t(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap() + chrono::Duration::milliseconds(ms.into())
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
        account: "prod".into(),
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
        account: "prod".into(),
        requester: "bob@example.com".into(),
        principal_arn: "arn:aws:iam::111122223333:role/sso/bob".into(),
        reason: "Failover | replica lag on orders-db".into(),
        approval: "peer".into(),
        approved_by: Some("carol@example.com".into()),
        policy: Some("not json ``` } trailing".into()),
        managed_policies: vec![],
        permissions_boundary: None,
        role_name: "breakglass-bnd_01HXB7".into(),
        role_arn: Some("arn:aws:iam::111122223333:role/breakglass/breakglass-bnd_01HXB7".into()),
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

/// Markup that must come out as text wherever it is put.
const MARKUP: &str = "<b x=\"1\" y='2'>&amp;</b>";
/// [`MARKUP`] as HTML text or a double-quoted attribute value.
const MARKUP_ESCAPED: &str = "&lt;b x=&quot;1&quot; y='2'&gt;&amp;amp;&lt;/b&gt;";

/// The sample with every piece of text it shows set to `s`.
fn everywhere(s: &str) -> Review {
    let mut r = sample();
    let i = &mut r.incident;
    for field in [&mut i.id, &mut i.source, &mut i.status] {
        *field = s.into();
    }
    for field in [&mut i.title, &mut i.service, &mut i.priority] {
        *field = Some(s.into());
    }
    i.link = Some(format!("https://example.com/{s}"));
    i.teams = vec![s.into()];
    i.responders = vec![s.into()];
    i.former_responders = vec![s.into()];
    for p in &mut r.lifecycle {
        p.status = s.into();
        p.kind = s.into();
    }
    for b in &mut r.bindings {
        for field in [
            &mut b.id,
            &mut b.role,
            &mut b.requester,
            &mut b.principal_arn,
            &mut b.reason,
            &mut b.role_name,
            &mut b.status,
        ] {
            *field = s.into();
        }
        for field in [
            &mut b.approved_by,
            &mut b.policy,
            &mut b.permissions_boundary,
            &mut b.role_arn,
            &mut b.end_reason,
            &mut b.ended_by,
            &mut b.how,
        ] {
            *field = Some(s.into());
        }
        b.managed_policies = vec![s.into()];
    }
    for e in &mut r.events {
        for field in [
            &mut e.at,
            &mut e.kind,
            &mut e.actor,
            &mut e.binding,
            &mut e.summary,
        ] {
            *field = s.into();
        }
        e.hash = Some(s.into());
    }
    r.chain.verify_with = s.into();
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
