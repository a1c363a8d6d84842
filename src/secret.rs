//! Secret values: webhook secrets, shared tokens. They are a type of their own so that no
//! `Debug`, `Display` or log line can ever print them.

use std::fmt;

use serde::Deserialize;

/// A secret value. Prints as `[redacted]`; the bytes are reachable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that keys a MAC or compares a token with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How a config file names a secret: inline, or by reference so that the file holds none.
///
/// ```toml
/// secrets = ["inline-value", { env = "PD_SECRET" }, { file = "/run/secrets/pd" }]
/// ```
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    Literal(String),
    Env { env: String },
    File { file: std::path::PathBuf },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("[redacted]"),
            SecretSource::Env { env } => write!(f, "env:{env}"),
            SecretSource::File { file } => write!(f, "file:{}", file.display()),
        }
    }
}

impl SecretSource {
    /// Read the secret. The error says what to fix; it never contains the secret.
    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretSource::Literal(v) => v.clone(),
            SecretSource::Env { env } => std::env::var(env).map_err(|_| {
                format!("environment variable `{env}` is not set; export it or name another source")
            })?,
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read secret file `{}`: {e}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        if value.trim().is_empty() {
            return Err("the secret is empty; give a non-empty value".to_owned());
        }
        Ok(Secret(value))
    }
}

/// Deserializing a `Secret` resolves its source at once, so a config that names a missing
/// variable or file fails to load, with the error attached to the right key.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SecretSource::deserialize(d)?
            .resolve()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(
            format!("{:?}", SecretSource::Literal("hunter2".into())),
            "[redacted]"
        );
    }

    #[test]
    fn missing_env_names_the_variable_not_a_value() {
        let err = SecretSource::Env {
            env: "BREAKGLASS_TEST_SURELY_UNSET".into(),
        }
        .resolve()
        .unwrap_err();
        assert!(err.contains("BREAKGLASS_TEST_SURELY_UNSET"), "{err}");
    }
}
