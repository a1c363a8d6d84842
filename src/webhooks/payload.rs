//! Small helpers the source normalizers share: JSON decoding with safe error text, timestamp
//! parsing, and trimming of free-text fields.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::PayloadError;

/// Longest free-text field kept (titles, service names); longer values are cut, never rejected.
pub const MAX_TEXT: usize = 512;

/// Decode a body, reporting only where decoding failed, never the body itself.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
    serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "malformed JSON"
            }
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Io => "unreadable",
        };
        PayloadError::Json(format!("{what} at line {} column {}", e.line(), e.column()))
    })
}

/// Parse an RFC 3339 timestamp.
pub fn rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Keep a bounded, non-empty piece of provider text.
pub fn text(s: Option<&str>) -> Option<String> {
    let s = s?.trim();
    if s.is_empty() {
        return None;
    }
    Some(s.chars().take(MAX_TEXT).collect())
}
