//! The commands that help write a config: `check-config` says whether it would start,
//! `hash-token` turns an API token into the digest `[[auth.tokens]]` holds.

use std::io::{Read, Write};
use std::path::Path;

use super::Failure;

/// `breakglass check-config`: everything `serve` reads before it listens, including a JWKS
/// file; `<path>: ok` on `out` if it would start.
pub fn check_config(path: &Path, out: &mut impl Write) -> Result<(), Failure> {
    let checked = crate::startup::load(path)
        .and_then(|c| crate::auth::ApiAuth::from_config(&c.auth).map(drop));
    match checked {
        Ok(()) => {
            // A closed pipe is not worth failing a check that passed.
            let _ = writeln!(out, "{}: ok", path.display());
            Ok(())
        }
        Err(e) => Err(Failure::new(format!(
            "invalid config {}: {e}",
            path.display()
        ))),
    }
}

/// `breakglass hash-token`: the hex SHA-256 of the token on `input` (trailing line breaks are
/// not part of it), for `[[auth.tokens]] sha256`. The token itself is never printed.
pub fn hash_token(input: &mut impl Read, out: &mut impl Write) -> Result<(), Failure> {
    let mut token = String::new();
    input
        .read_to_string(&mut token)
        .map_err(|e| Failure::new(format!("cannot read the token from standard input: {e}")))?;
    let token = token.trim_end_matches(['\r', '\n']);
    if token.is_empty() {
        return Err(Failure::new(
            "no token on standard input; try: printf %s \"$TOKEN\" | breakglass hash-token",
        ));
    }
    let _ = writeln!(out, "{}", crate::auth::token_digest_hex(token));
    Ok(())
}
