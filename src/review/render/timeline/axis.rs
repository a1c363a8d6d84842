//! The time axis: which times get a tick, where a time falls in the drawing, and the labels and
//! grid lines that show them.

use chrono::{DateTime, Timelike, Utc};
use maud::{html, Markup};

use super::{vline, Layout, Px, GRID, PLOT_X0, PLOT_X1};
use crate::review::model::Window;

/// Maps times to x, clamped to the window.
pub(in crate::review::render) struct Axis {
    pub(in crate::review::render) start: i64,
    pub(in crate::review::render) end: i64,
}

impl Axis {
    pub(in crate::review::render) fn new(w: Window) -> Self {
        let start = w.start.timestamp_millis();
        let end = w.end.timestamp_millis().max(start + 60_000);
        Self { start, end }
    }

    fn x_ms(&self, ms: i64) -> f64 {
        let ratio = (ms - self.start) as f64 / (self.end - self.start) as f64;
        PLOT_X0 + ratio.clamp(0.0, 1.0) * (PLOT_X1 - PLOT_X0)
    }

    pub(in crate::review::render) fn x(&self, t: DateTime<Utc>) -> f64 {
        self.x_ms(t.timestamp_millis())
    }

    pub(super) fn end_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.end).unwrap_or_else(Utc::now)
    }

    pub(super) fn contains(&self, t: DateTime<Utc>) -> bool {
        (self.start..=self.end).contains(&t.timestamp_millis())
    }

    /// The x range of `from..until`, or `None` if it lies wholly outside the window.
    pub(super) fn span(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<(f64, f64)> {
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
    pub(in crate::review::render) fn ticks(&self) -> Vec<i64> {
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

/// A tick of the time axis: where, its time, and the date above it where the date changes.
struct Tick {
    x: f64,
    date: Option<String>,
    time: String,
}

/// The axis's ticks, in seconds if any of them falls between minutes.
fn ticks(axis: &Axis) -> Vec<Tick> {
    let ticks = axis.ticks();
    let with_seconds = ticks.iter().any(|ms| ms % 60_000 != 0);
    let mut last_date = String::new();
    let mut out = Vec::with_capacity(ticks.len());
    for ms in ticks {
        let Some(t) = DateTime::from_timestamp_millis(ms) else {
            continue;
        };
        let date = t.format("%Y-%m-%d").to_string();
        let new_date = (date != last_date).then(|| date.clone());
        last_date = date;
        let time = if with_seconds || t.second() != 0 {
            t.format("%H:%M:%S")
        } else {
            t.format("%H:%M")
        };
        out.push(Tick {
            x: axis.x_ms(ms),
            date: new_date,
            time: time.to_string(),
        });
    }
    out
}

/// The axis's labels, and a grid line down from each tick.
pub(super) fn time_axis(l: &Layout) -> Markup {
    html! {
        text class="tick" x="6" y="27" { "Time (UTC)" }
        @for tick in ticks(&l.axis) {
            @if let Some(date) = &tick.date {
                text class="tick" x=(Px(tick.x)) y="12" text-anchor="middle" { (date) }
            }
            text class="tick" x=(Px(tick.x)) y="27" text-anchor="middle" { (tick.time) }
            (vline(None, tick.x, (l.top - 4.0, l.bottom), GRID, None))
        }
    }
}
