//! The lanes of the timeline: the incident's, with a bar per status it was in, and one per
//! binding, with its waiting, held and revoking bars and a tick at its expiry.

use maud::{html, Markup};

use super::{
    bar, plain, vline, Axis, Bar, Layout, Paint, Px, C_ACK, C_HELD, C_OPEN, C_OTHER, C_RESOLVED,
    C_WAIT, EXPIRY, LABEL_CHARS, REVOKING, ROW_H,
};
use crate::review::model::{human_duration, BindingReview, Phase, Review};
use crate::review::render::{rfc, span_ms};

fn phase_paint(status: &str) -> Paint {
    plain(match status {
        "open" | "triggered" => C_OPEN,
        "acknowledged" => C_ACK,
        "resolved" => C_RESOLVED,
        _ => C_OTHER,
    })
}

/// The label's text on one line, cut to `max` characters.
pub(in crate::review::render) fn truncate(s: &str, max: usize) -> String {
    let s = s.replace(['\r', '\n', '\t'], " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A lane's label: its text's baseline, centred on the lane.
fn label_y(lane_top: f64) -> f64 {
    lane_top + ROW_H / 2.0 + 4.0
}

/// A bar for each status the incident was in, named where it is wide enough.
pub(super) fn incident_lane(r: &Review, l: &Layout) -> Markup {
    let y = l.lane_top(0);
    html! {
        g class="incident" {
            text x="6" y=(Px(label_y(y))) font-weight="600" { "Incident" }
            @for p in &r.lifecycle {
                @if let Some(phase) = phase_bar(p, y, &l.axis) {
                    (bar(&phase))
                    @let width = phase.span.1 - phase.span.0;
                    @let name = truncate(&p.status, 20);
                    @if width > name.chars().count() as f64 * 7.0 + 8.0 {
                        text class="small" x=(Px(phase.span.0 + width / 2.0)) y=(Px(label_y(y)))
                            text-anchor="middle" { (name) }
                    }
                }
            }
        }
    }
}

fn phase_bar(p: &Phase, y: f64, axis: &Axis) -> Option<Bar> {
    let span = axis.span(p.from, p.until.unwrap_or_else(|| axis.end_time()))?;
    let lasted = match p.until {
        Some(u) => format!("until {} ({})", rfc(u), human_duration(span_ms(p.from, u))),
        None => "ongoing".to_owned(),
    };
    Some(Bar {
        span,
        y: y + 5.0,
        h: ROW_H - 10.0,
        paint: phase_paint(&p.status),
        title: format!("{} from {} {lasted}", p.status, rfc(p.from)),
    })
}

/// A binding's label, its bars, and a tick at its expiry.
pub(super) fn binding_lane(b: &BindingReview, y: f64, axis: &Axis) -> Markup {
    let label = format!("{} · {}", b.role, b.requester);
    let bars = [
        waiting_bar(b, y, axis),
        held_bar(b, y, axis),
        revoking_bar(b, y, axis),
    ];
    let expiry = b.expires_at.filter(|t| axis.contains(*t));
    html! {
        g class="binding" data-binding=(b.id) {
            text x="6" y=(Px(label_y(y))) { title { (label) } (truncate(&label, LABEL_CHARS)) }
            @for bar_ in bars.iter().flatten() { (bar(bar_)) }
            @if let Some(exp) = expiry {
                (vline(Some("expiry"), axis.x(exp), (y + 2.0, y + ROW_H - 2.0), EXPIRY,
                    Some(&format!("Expires {}", rfc(exp)))))
            }
        }
    }
}

/// Waiting: from the request to the grant (or to the end, if never granted).
fn waiting_bar(b: &BindingReview, y: f64, axis: &Axis) -> Option<Bar> {
    let end = b
        .granted_at
        .or(b.revocation_started_at)
        .or(b.revoked_at)
        .unwrap_or_else(|| axis.end_time());
    let title = match b.granted_at {
        Some(g) => format!(
            "Waiting: requested {}, granted {} ({})",
            rfc(b.requested_at),
            rfc(g),
            human_duration(span_ms(b.requested_at, g))
        ),
        None => format!("Waiting: requested {}, never granted", rfc(b.requested_at)),
    };
    Some(Bar {
        span: axis.span(b.requested_at, end)?,
        y: y + ROW_H / 2.0 - 2.5,
        h: 5.0,
        paint: plain(C_WAIT),
        title,
    })
}

/// Held: from the grant to the decision to revoke.
fn held_bar(b: &BindingReview, y: f64, axis: &Axis) -> Option<Bar> {
    let granted = b.granted_at?;
    let end = b
        .revocation_started_at
        .or(b.revoked_at)
        .or(b.expires_at)
        .unwrap_or_else(|| axis.end_time());
    let until = match (b.revocation_started_at, b.revoked_at, b.expires_at) {
        (Some(t), _, _) => format!("revocation started {}", rfc(t)),
        (None, Some(t), _) => format!("removed {}", rfc(t)),
        (None, None, Some(t)) => format!("still active, expires {}", rfc(t)),
        (None, None, None) => "still active".to_owned(),
    };
    let held = b
        .durations
        .held_ms
        .map(|ms| format!(" (held {})", human_duration(ms)))
        .unwrap_or_default();
    Some(Bar {
        span: axis.span(granted, end)?,
        y: y + 6.0,
        h: ROW_H - 12.0,
        paint: plain(C_HELD),
        title: format!("Access held: granted {}, {until}{held}", rfc(granted)),
    })
}

/// Revoking: from the decision to IAM's confirmed removal.
fn revoking_bar(b: &BindingReview, y: f64, axis: &Axis) -> Option<Bar> {
    let started = b.revocation_started_at?;
    let title = match b.revoked_at {
        Some(t) => format!(
            "Revoking: started {}, IAM confirmed removal {} ({})",
            rfc(started),
            rfc(t),
            human_duration(span_ms(started, t))
        ),
        None => format!("Revoking: started {}, removal not confirmed", rfc(started)),
    };
    Some(Bar {
        span: axis.span(started, b.revoked_at.unwrap_or_else(|| axis.end_time()))?,
        y: y + 4.0,
        h: ROW_H - 8.0,
        paint: REVOKING,
        title,
    })
}
