//! Durations: the config form (`"90s"`, `"1h30m"`, `"120"`) and the elevation request's
//! `duration` (a string or a number, from 1 s to the role's cap), and the expiry computed from
//! them. Nothing panics; an accepted request duration is whole seconds within the cap.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use arbitrary::Arbitrary;
use breakglass::config::{ConfigDuration, RoleEntry};
use breakglass::elevation::policy::{expires, parse_duration, Role};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Debug, Arbitrary)]
struct Input {
    text: String,
    number: Option<u64>,
    /// The role's cap, written the way config writes it.
    cap: String,
}

fuzz_target!(|input: Input| {
    let now = common::now();
    if let Ok(d) = ConfigDuration::parse(&input.text) {
        assert!(expires(now, d.0) >= now);
    }
    let Ok(cap) = ConfigDuration::parse(&input.cap) else {
        return;
    };
    let role = Role::new(RoleEntry {
        name: "fuzz".into(),
        description: String::new(),
        max_duration: cap,
        approval: "auto".into(),
        policy: "{}".into(),
        managed_policies: Vec::new(),
        permissions_boundary: None,
        accounts: None,
        when: Default::default(),
    });
    let mut values = vec![Value::String(input.text.clone())];
    values.extend(input.number.map(Value::from));
    values.extend(serde_json::from_str::<Value>(&input.text));
    for value in values {
        if let Ok(d) = parse_duration(&value, &role) {
            assert!(d >= Duration::from_secs(1), "{value}: under a second");
            assert_eq!(d.subsec_nanos(), 0, "{value}: not whole seconds");
            assert!(d <= role.max_duration, "{value}: over the cap");
            assert!(expires(now, d) > now);
        }
    }
});
