//! The SVG timeline of the HTML report: a time axis, then one lane for the incident (a bar per
//! status it was in) and one per binding (waiting for the grant, access held, revoking, and a
//! tick at its expiry), a dashed line where the incident was resolved, and a legend.

use std::fmt::Write as _;

use chrono::{DateTime, Timelike, Utc};

use super::html::escape;
use super::{rfc, span_ms};
use crate::review::model::{human_duration, Review, Window};

pub(super) const SVG_W: f64 = 920.0;
/// Where the plot starts (row labels to the left) and ends.
pub(super) const PLOT_X0: f64 = 292.0;
pub(super) const PLOT_X1: f64 = 885.0;
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
pub(super) struct Axis {
    pub(super) start: i64,
    pub(super) end: i64,
}

impl Axis {
    pub(super) fn new(w: Window) -> Self {
        let start = w.start.timestamp_millis();
        let end = w.end.timestamp_millis().max(start + 60_000);
        Self { start, end }
    }

    fn x_ms(&self, ms: i64) -> f64 {
        let ratio = (ms - self.start) as f64 / (self.end - self.start) as f64;
        PLOT_X0 + ratio.clamp(0.0, 1.0) * (PLOT_X1 - PLOT_X0)
    }

    pub(super) fn x(&self, t: DateTime<Utc>) -> f64 {
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
    pub(super) fn ticks(&self) -> Vec<i64> {
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

pub(super) fn truncate(s: &str, max: usize) -> String {
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

pub(super) fn timeline(out: &mut String, r: &Review) {
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
