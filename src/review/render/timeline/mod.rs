//! The SVG timeline of the HTML report: a time axis ([`axis`]), then one lane for the incident
//! (a bar per status it was in) and one per binding (waiting for the grant, access held,
//! revoking, and a tick at its expiry; [`lanes`]), a dashed line where the incident was
//! resolved, and a legend.
//!
//! Each part is drawn by its own function from a shared [`Layout`], with maud, which escapes
//! every value it splices in. Every bar and marker carries a `<title>` with its exact times,
//! which browsers show as a tooltip. Each element is closed explicitly (`<rect ...></rect>`):
//! in an HTML page, SVG elements are not void, and `<rect ...>` alone would swallow what follows.

mod axis;
mod lanes;

use std::fmt;

use chrono::{DateTime, Utc};
use maud::{html, Markup};

pub(super) use self::axis::Axis;
#[cfg(test)]
pub(super) use self::lanes::truncate;
use super::rfc;
use crate::review::model::Review;

pub(super) const SVG_W: f64 = 920.0;
/// Where the plot starts (row labels to the left) and ends.
pub(super) const PLOT_X0: f64 = 292.0;
pub(super) const PLOT_X1: f64 = 885.0;
/// The axis labels.
const AXIS_H: f64 = 36.0;
const ROW_H: f64 = 28.0;
/// Longer binding labels are cut, the whole of them in a tooltip.
const LABEL_CHARS: usize = 40;

const C_OPEN: &str = "#d9534f";
const C_ACK: &str = "#f0ad4e";
const C_RESOLVED: &str = "#8fb38f";
const C_OTHER: &str = "#b0b0b0";
const C_WAIT: &str = "#a9c8e8";
const C_HELD: &str = "#2b6cb0";
const C_REVOKE: &str = "#7a1f1f";

/// How a line is drawn.
#[derive(Clone, Copy)]
struct Stroke {
    colour: &'static str,
    width: &'static str,
    dash: Option<&'static str>,
}

const fn solid(colour: &'static str, width: &'static str) -> Stroke {
    Stroke {
        colour,
        width,
        dash: None,
    }
}

const RULE: Stroke = solid("#e2e2e2", "1");
const GRID: Stroke = solid("#d4d4d4", "1");
const EXPIRY: Stroke = solid("#111111", "2");
const RESOLVED: Stroke = Stroke {
    colour: "#333333",
    width: "1.5",
    dash: Some("5 3"),
};

/// How a bar or a legend swatch is filled, and outlined if it is.
#[derive(Clone, Copy)]
struct Paint {
    fill: &'static str,
    outline: Option<Stroke>,
}

const fn plain(fill: &'static str) -> Paint {
    Paint {
        fill,
        outline: None,
    }
}

/// The revoking bars: hatched (see [`hatch`]), outlined.
const REVOKING: Paint = Paint {
    fill: "url(#bg-hatch)",
    outline: Some(solid("#3d0b0b", "0.8")),
};

/// A coordinate or a length in the drawing, written to a tenth.
#[derive(Clone, Copy)]
struct Px(f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// Where the parts of the drawing go.
struct Layout {
    axis: Axis,
    /// The top of the first lane, below the axis labels.
    top: f64,
    /// The bottom of the last lane.
    bottom: f64,
    /// The legend's baseline.
    legend_y: f64,
    height: f64,
}

impl Layout {
    fn new(r: &Review) -> Self {
        let lanes = 1 + r.bindings.len();
        let top = AXIS_H;
        let bottom = top + lanes as f64 * ROW_H;
        let legend_y = bottom + 34.0;
        Self {
            axis: Axis::new(r.window),
            top,
            bottom,
            legend_y,
            height: legend_y + 16.0,
        }
    }

    /// The top of lane `k`: 0 is the incident's, then one per binding.
    fn lane_top(&self, k: usize) -> f64 {
        self.top + k as f64 * ROW_H
    }
}

/// A bar of a lane: the x range it covers, its top and height, and its tooltip.
struct Bar {
    span: (f64, f64),
    y: f64,
    h: f64,
    paint: Paint,
    title: String,
}

fn bar(b: &Bar) -> Markup {
    let (xa, xb) = b.span;
    html! {
        rect x=(Px(xa)) y=(Px(b.y)) width=(Px((xb - xa).max(2.0))) height=(Px(b.h))
            fill=(b.paint.fill) stroke=[b.paint.outline.map(|s| s.colour)]
            stroke-width=[b.paint.outline.map(|s| s.width)] { title { (b.title) } }
    }
}

/// A vertical line at `x` from `y1` down to `y2`, with a tooltip if it has a `title`.
fn vline(
    class: Option<&str>,
    x: f64,
    (y1, y2): (f64, f64),
    stroke: Stroke,
    title: Option<&str>,
) -> Markup {
    html! {
        line class=[class] x1=(Px(x)) y1=(Px(y1)) x2=(Px(x)) y2=(Px(y2)) stroke=(stroke.colour)
            stroke-width=(stroke.width) stroke-dasharray=[stroke.dash] {
            @if let Some(title) = title { title { (title) } }
        }
    }
}

pub(super) fn timeline(r: &Review) -> Markup {
    let l = Layout::new(r);
    html! {
        svg class="timeline" xmlns="http://www.w3.org/2000/svg"
            viewBox={ "0 0 " (SVG_W) " " (l.height) } width="100%" role="img"
            aria-label={ "Timeline of incident " (r.incident.id) " and its access bindings" } {
            title { "Timeline: " (rfc(r.window.start)) " to " (rfc(l.axis.end_time())) " (UTC)" }
            (hatch())
            (lane_rules(&l, 1 + r.bindings.len()))
            (axis::time_axis(&l))
            (lanes::incident_lane(r, &l))
            @for (k, b) in r.bindings.iter().enumerate() {
                (lanes::binding_lane(b, l.lane_top(k + 1), &l.axis))
            }
            @if let Some(resolved) = r.incident.resolved_at { (resolved_marker(resolved, &l)) }
            (legend(l.legend_y))
        }
    }
}

/// The hatching of the revoking bars.
fn hatch() -> Markup {
    html! {
        defs {
            pattern id="bg-hatch" width="6" height="6" patternUnits="userSpaceOnUse"
                patternTransform="rotate(45)" {
                rect width="6" height="6" fill=(C_REVOKE) {}
                line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2" {}
            }
        }
    }
}

/// The lines between lanes, across the labels' column too.
fn lane_rules(l: &Layout, lanes: usize) -> Markup {
    html! {
        @for k in 0..=lanes {
            @let y = l.lane_top(k);
            line x1="0" y1=(Px(y)) x2=(SVG_W) y2=(Px(y)) stroke=(RULE.colour)
                stroke-width=(RULE.width) {}
        }
    }
}

/// A dashed line down every lane where the incident was resolved.
fn resolved_marker(resolved: DateTime<Utc>, l: &Layout) -> Markup {
    let x = l.axis.x(resolved);
    let title = format!("Resolved {}", rfc(resolved));
    html! {
        g class="resolved" {
            (vline(None, x, (l.top - 4.0, l.bottom + 4.0), RESOLVED, Some(&title)))
            text class="small" x=(Px(x)) y=(Px(l.bottom + 16.0)) text-anchor="middle" { "resolved" }
        }
    }
}

/// What each colour and line means, in a row at baseline `y`.
fn legend(y: f64) -> Markup {
    const SWATCHES: [(&str, Paint); 6] = [
        ("Open", plain(C_OPEN)),
        ("Acknowledged", plain(C_ACK)),
        ("Resolved", plain(C_RESOLVED)),
        ("Waiting for grant", plain(C_WAIT)),
        ("Access held", plain(C_HELD)),
        ("Revoking", REVOKING),
    ];
    const LINES: [(&str, Stroke); 2] = [("Expires", EXPIRY), ("Incident resolved", RESOLVED)];
    let width = |label: &str| label.chars().count() as f64 * 6.0 + 16.0;
    let mut x = 6.0;
    let mut swatches = Vec::new();
    for (label, paint) in SWATCHES {
        swatches.push((x, label, paint));
        x += 18.0 + width(label);
    }
    let mut lines = Vec::new();
    for (label, stroke) in LINES {
        lines.push((x, label, stroke));
        x += 14.0 + width(label);
    }
    html! {
        g class="legend" {
            @for (x, label, paint) in swatches {
                rect x=(Px(x)) y=(Px(y - 9.0)) width="14" height="10" fill=(paint.fill)
                    stroke=[paint.outline.map(|s| s.colour)]
                    stroke-width=[paint.outline.map(|s| s.width)] {}
                text class="small" x=(Px(x + 18.0)) y=(Px(y)) { (label) }
            }
            @for (x, label, stroke) in lines {
                (vline(None, x + 6.0, (y - 11.0, y + 2.0), stroke, None))
                text class="small" x=(Px(x + 14.0)) y=(Px(y)) { (label) }
            }
        }
    }
}
