//! What the normalizers' unit tests share: expected events written as JSON over a base, and the
//! one-event check.

use serde_json::Value;

use super::{Normalized, PayloadError};
use crate::incidents::IncidentEvent;

/// The single event a normalizer produced (panics otherwise).
pub fn single(result: Result<Normalized, PayloadError>) -> IncidentEvent {
    match result {
        Ok(Normalized::Events(mut events)) if events.len() == 1 => events.remove(0),
        other => panic!("expected one event, got {other:?}"),
    }
}

/// The expected event: `fields` over `base`, every field not named being empty.
pub fn expect(base: &Value, fields: Value) -> IncidentEvent {
    let mut merged = base.clone();
    if let (Some(merged), Value::Object(fields)) = (merged.as_object_mut(), fields) {
        merged.extend(fields);
    }
    serde_json::from_value(merged).expect("an IncidentEvent")
}

/// Assert that a fixture maps to exactly `fields` over `base`. Uses the calling module's `run`
/// and `fixture!`.
macro_rules! check {
    ($file:literal, $base:expr, $fields:tt) => {
        assert_eq!(
            run(fixture!($file)),
            $crate::webhooks::test_support::expect(&$base, serde_json::json!($fields)),
            $file
        )
    };
}
pub(crate) use check;
