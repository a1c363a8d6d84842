//! Real-shaped webhooks for the load generator: the `tests/fixtures` payload of each tool's
//! "incident opened" event, with a new incident id, a new delivery id and the current time, and
//! the headers the tool sends (signed for PagerDuty and Grafana Incident, the shared token for
//! Opsgenie and Grafana OnCall). Everything is built and signed before a phase's clock starts.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{SecondsFormat, Utc};

use crate::harness::{
    fixture, gi_signature, pd_signature, GI_SECRET, ONCALL_TOKEN, OPSGENIE_TOKEN, PD_SECRET,
};

/// The four tools, in the order the load mixes them (round robin).
pub const SOURCES: [&str; 4] = [
    "pagerduty",
    "opsgenie",
    "grafana-oncall",
    "grafana-incident",
];

/// One delivery, ready to send: which tool (an index into [`SOURCES`]), its headers and body.
pub struct Prepared {
    pub source: usize,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// A fixture with the values that make a delivery distinct replaced by placeholders.
struct Template {
    text: String,
}

impl Template {
    /// `fixture` with each `(from, placeholder)` replaced everywhere; each `from` must occur.
    fn new(fixture_path: &str, edits: &[(&str, &str)]) -> Template {
        let mut text = String::from_utf8(fixture(fixture_path)).expect("UTF-8 fixture");
        for (from, to) in edits {
            assert!(
                text.contains(from),
                "fixture {fixture_path} no longer contains {from:?}"
            );
            text = text.replace(from, to);
        }
        Template { text }
    }

    fn fill(&self, values: &[(&str, &str)]) -> Vec<u8> {
        let mut text = self.text.clone();
        for (placeholder, value) in values {
            text = text.replace(placeholder, value);
        }
        text.into_bytes()
    }
}

/// Makes distinct deliveries for every tool; ids never repeat within one generator.
pub struct Generator {
    pagerduty: Template,
    opsgenie: Template,
    oncall: Template,
    incident: Template,
    /// Distinguishes this run's ids from any earlier run's against the same Redis.
    run: String,
    next: AtomicUsize,
}

impl Generator {
    pub fn new() -> Generator {
        let pagerduty = Template::new(
            "pagerduty/incident.triggered.json",
            &[
                ("01BZYIL05THJDFF2Y08X9SVMTU", "@EVENT@"),
                ("PFQZPSY", "@INCIDENT@"),
                ("2021-06-04T13:35:29.781Z", "@AT@"),
            ],
        );
        let opsgenie = Template::new(
            "opsgenie/Create.json",
            &[
                (
                    "7ec331d7-f5f3-4f78-a49c-2ad886df69fe-1593475564295",
                    "@ALERT@",
                ),
                ("\"createdAt\": 1593475564295", "\"createdAt\": @MS@"),
                ("\"updatedAt\": 1593475564636000000", "\"updatedAt\": @NS@"),
            ],
        );
        let oncall = Template::new(
            "grafana-oncall/alert_group_created.RECONSTRUCTED.json",
            &[
                ("I6HNZGUFG4K11", "@GROUP@"),
                ("AA74DN7T4JQB6", "@ALERT@"),
                ("2023-04-19T21:53:48.231148+00:00", "@AT@"),
                ("2023-04-19T21:53:48.231148Z", "@ATZ@"),
            ],
        );
        let incident = Template::new(
            "grafana-incident/grafana.incident.created.RECONSTRUCTED.json",
            &[
                ("webhook-out-6409be78a7ee628da2a70dbd", "@DELIVERY@"),
                ("\"incidentID\": \"19\"", "\"incidentID\": \"@INCIDENT@\""),
                ("/incidents/19/", "/incidents/@INCIDENT@/"),
                ("2023-03-09T11:09:44.293367Z", "@AT@"),
                ("2023-03-09T11:09:44Z", "@SENT@"),
            ],
        );
        Generator {
            pagerduty,
            opsgenie,
            oncall,
            incident,
            run: format!("{:x}", Utc::now().timestamp_millis() % 0xfffff),
            next: AtomicUsize::new(0),
        }
    }

    /// `n` new deliveries, the tools in turn, signed now.
    pub fn batch(&self, n: usize) -> Vec<Prepared> {
        (0..n)
            .map(|_| self.one(self.next.fetch_add(1, Ordering::Relaxed)))
            .collect()
    }

    fn one(&self, i: usize) -> Prepared {
        let now = Utc::now();
        let source = i % SOURCES.len();
        let id = format!("{}{:09}", self.run, i);
        match source {
            0 => {
                let body = self.pagerduty.fill(&[
                    ("@EVENT@", &format!("01PERF{id}")),
                    ("@INCIDENT@", &format!("PP{id}")),
                    ("@AT@", &now.to_rfc3339_opts(SecondsFormat::Millis, true)),
                ]);
                Prepared {
                    source,
                    headers: vec![
                        ("x-pagerduty-signature", pd_signature(PD_SECRET, &body)),
                        ("x-webhook-id", format!("perf-delivery-{id}")),
                        ("x-webhook-subscription", "PSUBPERF".into()),
                        ("user-agent", "PagerDuty-Webhook/V3.0".into()),
                        ("content-type", "application/json".into()),
                    ],
                    body,
                }
            }
            1 => {
                let ms = now.timestamp_millis();
                let ns = now.timestamp_nanos_opt().expect("a time in range");
                let body = self.opsgenie.fill(&[
                    ("@ALERT@", &format!("perf-{id}-{ms}")),
                    ("@MS@", &ms.to_string()),
                    ("@NS@", &ns.to_string()),
                ]);
                Prepared {
                    source,
                    headers: vec![
                        ("x-breakglass-token", OPSGENIE_TOKEN.into()),
                        ("content-type", "application/json; charset=utf-8".into()),
                    ],
                    body,
                }
            }
            2 => {
                let body = self.oncall.fill(&[
                    ("@GROUP@", &format!("IP{id}")),
                    ("@ALERT@", &format!("AP{id}")),
                    ("@AT@", &now.to_rfc3339_opts(SecondsFormat::Micros, false)),
                    ("@ATZ@", &now.to_rfc3339_opts(SecondsFormat::Micros, true)),
                ]);
                Prepared {
                    source,
                    headers: vec![
                        ("authorization", format!("Bearer {ONCALL_TOKEN}")),
                        ("content-type", "application/json".into()),
                    ],
                    body,
                }
            }
            _ => {
                let body = self.incident.fill(&[
                    ("@DELIVERY@", &format!("webhook-out-perf{id}")),
                    ("@INCIDENT@", &format!("P{id}")),
                    ("@AT@", &now.to_rfc3339_opts(SecondsFormat::Micros, true)),
                    ("@SENT@", &now.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ]);
                let signature = gi_signature(GI_SECRET, &body, now.timestamp());
                Prepared {
                    source,
                    headers: vec![
                        ("gi-signature", signature),
                        ("content-type", "application/json".into()),
                    ],
                    body,
                }
            }
        }
    }
}
