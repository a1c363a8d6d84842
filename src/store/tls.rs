//! TLS to Redis, in every topology: the crypto provider rustls needs, the PEM files of the
//! `redis.tls_*` settings, and their check at load.

use crate::config::{self, ConfigError};

use super::StoreError;

/// The URL schemes that mean TLS; the `tls_*` files make sense only with one of them.
const TLS_SCHEMES: [&str; 4] = ["rediss", "valkeys", "rediss+cluster", "rediss+sentinel"];

/// Make aws-lc-rs rustls' process-wide crypto provider unless one is set already. rustls is
/// built with both aws-lc-rs (the AWS SDK) and ring (reqwest), so it cannot pick one by itself
/// and a `rediss://` connection would fail without this.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The PEM files of the `tls_*` settings. Read again here (validation checked them at load) so
/// that a replaced certificate is picked up by the next start.
pub(super) fn certificates(cfg: &config::Redis) -> Result<redis::TlsCertificates, StoreError> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            StoreError::Unavailable(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "cannot read a TLS file",
                format!("redis.{key} `{}`: {e}", path.display()),
            )))
        })
    };
    let root_cert = match &cfg.tls_ca_file {
        Some(path) => Some(read("tls_ca_file", path)?),
        None => None,
    };
    let client_tls = match (&cfg.tls_cert_file, &cfg.tls_key_file) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read("tls_cert_file", cert)?,
            client_key: read("tls_key_file", key)?,
        }),
        _ => None,
    };
    Ok(redis::TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// The `tls_*` files: only with a `rediss://` URL, cert and key together, all readable.
/// Errors never show the URL: it may carry a password.
pub(super) fn check_files(r: &config::Redis) -> Result<(), ConfigError> {
    match (&r.tls_cert_file, &r.tls_key_file) {
        (Some(_), None) => {
            return Err(ConfigError::new(
                "redis.tls_key_file",
                "set it together with redis.tls_cert_file: mutual TLS needs both the client certificate and its key",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "redis.tls_cert_file",
                "set it together with redis.tls_key_file: mutual TLS needs both the client certificate and its key",
            ))
        }
        _ => {}
    }
    let files = [
        ("redis.tls_ca_file", &r.tls_ca_file),
        ("redis.tls_cert_file", &r.tls_cert_file),
        ("redis.tls_key_file", &r.tls_key_file),
    ];
    let scheme = r
        .url
        .expose()
        .trim_start()
        .split("://")
        .next()
        .unwrap_or("");
    let is_tls_url = TLS_SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s));
    for (key, file) in files {
        let Some(path) = file else { continue };
        if !is_tls_url {
            return Err(ConfigError::new(
                key,
                "TLS settings need a rediss:// URL in redis.url (redis:// is plain text)",
            ));
        }
        if let Err(e) = std::fs::read(path) {
            return Err(ConfigError::new(
                key,
                format!(
                    "cannot read `{}`: {e}; point it at a PEM file",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}
