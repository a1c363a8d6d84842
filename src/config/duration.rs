//! Durations in config: `"90s"`, `"30m"`, `"1h"`, `"7d"`, or a bare number of seconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written the way people write them in config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    pub const fn secs(n: u64) -> Self {
        Self(Duration::from_secs(n))
    }

    pub const fn millis(n: u64) -> Self {
        Self(Duration::from_millis(n))
    }

    /// Parse `"90s"`, `"30m"`, `"1h"`, `"1h30m"` or `"120"` (seconds).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(Self::secs(secs));
        }
        humantime::parse_duration(s).map(Self).map_err(|_| {
            format!("`{s}` is not a duration; write it like \"90s\", \"30m\" or \"1h\"")
        })
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(n) => Ok(Self::secs(n)),
            Raw::Text(s) => Self::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl From<ConfigDuration> for Duration {
    fn from(d: ConfigDuration) -> Duration {
        d.0
    }
}
