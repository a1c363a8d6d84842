//! TLS to Redis, in every topology: the crypto provider rustls needs, the PEM files of the
//! `redis.tls_*` settings.

use crate::config;

use super::StoreError;

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
