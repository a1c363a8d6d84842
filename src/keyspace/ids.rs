//! The ids every part of breakglass passes around: incidents (`<source>:<native id>`) and
//! bindings, each knowing its shard.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SHARDS;

/// An incident tool that may send webhooks. A closed set: adding a source is a code change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Pagerduty,
    Opsgenie,
    GrafanaOncall,
    GrafanaIncident,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Pagerduty,
        Source::Opsgenie,
        Source::GrafanaOncall,
        Source::GrafanaIncident,
    ];

    /// The name used in incident ids, URLs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Pagerduty => "pagerduty",
            Source::Opsgenie => "opsgenie",
            Source::GrafanaOncall => "grafana-oncall",
            Source::GrafanaIncident => "grafana-incident",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|src| src.as_str() == s)
            .ok_or(UnknownSource)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown incident source")]
pub struct UnknownSource;

/// `<source>:<native id>`, the one id every part of breakglass uses for an incident.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IncidentId {
    source: Source,
    native: String,
}

/// Longest native id accepted; real ids are far shorter, and the bound keeps keys small.
const MAX_NATIVE_ID_LEN: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidIncidentId {
    #[error("an incident id looks like `<source>:<native id>`, for example `pagerduty:PFQZPSY`")]
    Shape,
    #[error("`{0}` is not a source; use pagerduty, opsgenie, grafana-oncall or grafana-incident")]
    Source(String),
    #[error("the native id must be 1 to 200 printable characters without spaces")]
    Native,
}

impl IncidentId {
    /// The shard the incident, its bindings and its audit events live in.
    pub fn shard(&self) -> u16 {
        super::of(&self.to_string())
    }

    pub fn new(source: Source, native: &str) -> Result<Self, InvalidIncidentId> {
        let ok = !native.is_empty()
            && native.len() <= MAX_NATIVE_ID_LEN
            && native.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(InvalidIncidentId::Native);
        }
        Ok(Self {
            source,
            native: native.to_owned(),
        })
    }

    pub fn source(&self) -> Source {
        self.source
    }

    pub fn native(&self) -> &str {
        &self.native
    }
}

impl FromStr for IncidentId {
    type Err = InvalidIncidentId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (src, native) = s.split_once(':').ok_or(InvalidIncidentId::Shape)?;
        let source = src
            .parse::<Source>()
            .map_err(|_| InvalidIncidentId::Source(src.chars().take(40).collect()))?;
        IncidentId::new(source, native)
    }
}

impl TryFrom<String> for IncidentId {
    type Error = InvalidIncidentId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IncidentId> for String {
    fn from(id: IncidentId) -> String {
        id.to_string()
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.native)
    }
}

/// A binding's id: 16 lowercase base-32 characters, the first naming the incident's shard in
/// hex, so that the binding is found from its id alone and lives in its incident's shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BindingId(String);

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a binding id is 16 lowercase letters and digits, as returned by POST /v1/elevations")]
pub struct InvalidBindingId;

impl BindingId {
    /// A fresh id in the shard of `incident`.
    pub fn new(incident: &IncidentId) -> Self {
        let shard = super::of(&incident.to_string());
        let mut id = format!("{shard:x}");
        while id.len() < 16 {
            id.push(char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]));
        }
        Self(id)
    }

    pub fn shard(&self) -> u16 {
        // Validated at construction: the first character is a hex digit below SHARDS.
        u16::from_str_radix(&self.0[..1], 16).unwrap_or(0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BindingId {
    type Err = InvalidBindingId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shard_ok = s
            .get(..1)
            .and_then(|c| u16::from_str_radix(c, 16).ok())
            .is_some_and(|n| n < SHARDS);
        let body_ok = s.len() == 16
            && s.bytes()
                .all(|b| ALPHABET.contains(&b) || b.is_ascii_digit());
        if shard_ok && body_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidBindingId)
        }
    }
}

impl TryFrom<String> for BindingId {
    type Error = InvalidBindingId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BindingId> for String {
    fn from(id: BindingId) -> String {
        id.0
    }
}

impl fmt::Display for BindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
