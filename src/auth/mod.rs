//! Who is calling the responder and operator API.
//!
//! Static API tokens from `[[auth.tokens]]` are stored only as SHA-256 digests; a presented token
//! is hashed and compared in constant time against every configured digest. (OIDC JWTs join here
//! with the elevation feature.)

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ApiToken;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A responder's email, or an operator's name.
    pub subject: String,
    /// Admins may read any incident, export audits and revoke any binding.
    pub admin: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the credentials are not valid")]
    Invalid,
}

struct TokenEntry {
    digest: [u8; 32],
    principal: Principal,
}

/// Authenticates API callers.
pub struct ApiAuth {
    tokens: Vec<TokenEntry>,
}

impl ApiAuth {
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
        Self { tokens }
    }

    /// Authenticate the value of an `Authorization` header.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
            .ok_or(AuthError::Missing)?;
        let digest: [u8; 32] = Sha256::digest(token.trim_ascii()).into();
        // Compare against every entry so the time taken does not say which one matched.
        let mut found = None;
        for entry in &self.tokens {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(&entry.principal);
            }
        }
        found.cloned().ok_or(AuthError::Invalid)
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

    #[test]
    fn accepts_the_token_whose_digest_is_configured() {
        let p = auth().authenticate(Some(b"Bearer s3cret-token")).unwrap();
        assert_eq!(p.subject, "alice@example.com");
        assert!(!p.admin);
    }

    #[test]
    fn refuses_missing_wrong_and_malformed_credentials() {
        let a = auth();
        assert_eq!(a.authenticate(None), Err(AuthError::Missing));
        assert_eq!(a.authenticate(Some(b"Basic abc")), Err(AuthError::Missing));
        assert_eq!(
            a.authenticate(Some(b"Bearer nope")),
            Err(AuthError::Invalid)
        );
        assert_eq!(a.authenticate(Some(b"Bearer ")), Err(AuthError::Invalid));
    }
}
