//! Who is calling the responder and operator API.
//!
//! Two kinds of credentials arrive as `Authorization: Bearer <value>`. Static API tokens from
//! `[[auth.tokens]]` are stored only as SHA-256 digests; a presented token is hashed and compared
//! in constant time against every configured digest. Failing that, a value shaped like a JWT is
//! verified as an OIDC token from the company IdP when `[auth.oidc]` is configured ([`oidc`]).

pub mod jwks;
pub mod oidc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ApiToken, Auth, ConfigError};
use oidc::{OidcError, OidcVerifier};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A responder's email, or an operator's name.
    pub subject: String,
    /// Admins may read any incident, export audits and revoke any binding.
    pub admin: bool,
}

/// Why a caller was refused. The message is shown to the caller, so it says what to do and never
/// why a signature failed; the precise reason of a refused JWT goes to the log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the credentials are not valid: check the API token, or sign in to the identity provider again and send the new token")]
    Invalid,
    #[error(
        "the token has expired: sign in to the identity provider again and send the new token"
    )]
    Expired,
    #[error("the token is not valid yet: check this machine's clock, or retry in a minute")]
    NotYetValid,
    #[error("the token was issued by another identity provider or for another application: get one issued for breakglass")]
    WrongIssuerOrAudience,
    #[error("the token has no `{0}` claim holding your email: ask the identity provider's admin to add it (the `email` scope)")]
    NoEmail(String),
    #[error("the token's email is not verified: verify it with the identity provider, then sign in again")]
    EmailNotVerified,
    #[error("the identity provider's signing keys cannot be fetched right now: retry in a minute")]
    KeysUnavailable,
}

impl From<OidcError> for AuthError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Expired => AuthError::Expired,
            OidcError::NotYetValid => AuthError::NotYetValid,
            OidcError::WrongIssuer | OidcError::WrongAudience => AuthError::WrongIssuerOrAudience,
            OidcError::NoEmail(claim) => AuthError::NoEmail(claim),
            OidcError::EmailNotVerified => AuthError::EmailNotVerified,
            OidcError::KeysUnavailable => AuthError::KeysUnavailable,
            OidcError::Malformed
            | OidcError::Algorithm(_)
            | OidcError::CriticalHeader
            | OidcError::NoKey { .. }
            | OidcError::Signature
            | OidcError::NoExpiry => AuthError::Invalid,
        }
    }
}

struct TokenEntry {
    digest: [u8; 32],
    principal: Principal,
}

/// Authenticates API callers.
pub struct ApiAuth {
    tokens: Vec<TokenEntry>,
    oidc: Option<OidcVerifier>,
}

impl ApiAuth {
    /// Everything `[auth]` configures. Fails when `[auth.oidc]` names a JWKS file that cannot be
    /// read or holds no usable key.
    pub fn from_config(auth: &Auth) -> Result<Self, ConfigError> {
        let oidc = auth.oidc.as_ref().map(OidcVerifier::new).transpose()?;
        Ok(Self {
            oidc,
            ..Self::new(&auth.tokens)
        })
    }

    /// Static API tokens only.
    pub fn new(tokens: &[ApiToken]) -> Self {
        let tokens = tokens
            .iter()
            .filter_map(|t| {
                let bytes = hex::decode(t.sha256.trim()).ok()?;
                Some(TokenEntry {
                    digest: bytes.try_into().ok()?,
                    principal: Principal {
                        subject: t.subject.trim().to_owned(),
                        admin: t.admin,
                    },
                })
            })
            .collect();
        Self { tokens, oidc: None }
    }

    /// Authenticate the value of an `Authorization` header: a static API token first, then, if
    /// OIDC is configured and the value is shaped like a JWT, an IdP-issued token.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
            .ok_or(AuthError::Missing)?
            .trim_ascii();
        if let Some(principal) = self.static_token(token) {
            return Ok(principal);
        }
        let (Some(oidc), Ok(jwt)) = (&self.oidc, std::str::from_utf8(token)) else {
            return Err(AuthError::Invalid);
        };
        if !oidc::looks_like_jwt(token) {
            return Err(AuthError::Invalid);
        }
        oidc.verify(jwt).await.map_err(|reason| {
            // The reason only: never the token.
            tracing::info!(%reason, "OIDC token refused");
            reason.into()
        })
    }

    fn static_token(&self, token: &[u8]) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        // Compare against every entry so the time taken does not say which one matched.
        let mut found = None;
        for entry in &self.tokens {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(&entry.principal);
            }
        }
        found.cloned()
    }
}

/// The hex SHA-256 of a token, as `[[auth.tokens]] sha256` wants it.
pub fn token_digest_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> ApiAuth {
        ApiAuth::new(&[ApiToken {
            sha256: token_digest_hex("s3cret-token"),
            subject: "alice@example.com".into(),
            admin: false,
        }])
    }

    #[tokio::test]
    async fn accepts_the_token_whose_digest_is_configured() {
        let p = auth()
            .authenticate(Some(b"Bearer s3cret-token"))
            .await
            .unwrap();
        assert_eq!(p.subject, "alice@example.com");
        assert!(!p.admin);
    }

    #[tokio::test]
    async fn refuses_missing_wrong_and_malformed_credentials() {
        let a = auth();
        assert_eq!(a.authenticate(None).await, Err(AuthError::Missing));
        assert_eq!(
            a.authenticate(Some(b"Basic abc")).await,
            Err(AuthError::Missing)
        );
        assert_eq!(
            a.authenticate(Some(b"Bearer nope")).await,
            Err(AuthError::Invalid)
        );
        assert_eq!(
            a.authenticate(Some(b"Bearer ")).await,
            Err(AuthError::Invalid)
        );
    }

    #[tokio::test]
    async fn without_oidc_a_jwt_is_just_a_wrong_token() {
        assert_eq!(
            auth().authenticate(Some(b"Bearer eyJh.eyJz.c2ln")).await,
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn refusal_messages_name_no_signature_detail() {
        for reason in [
            OidcError::Signature,
            OidcError::Algorithm("none".into()),
            OidcError::Malformed,
        ] {
            assert_eq!(AuthError::from(reason), AuthError::Invalid);
        }
    }
}
