//! Identity Center people: `[aws.identity_center]` and each responder's AWS identity.

use super::Result;
use crate::config::{is_permission_set_role, is_session_name, Config, ConfigError};

impl Config {
    pub(super) fn validate_identities(&self) -> Result {
        if let Some(ic) = &self.aws.identity_center {
            if !is_permission_set_role(&ic.role_arn) || ic.session_principal("x").is_none() {
                return Err(ConfigError::new(
                    "aws.identity_center.role_arn",
                    "must be the permission-set role's ARN with its path, like arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Responder_0123456789abcdef",
                ));
            }
        }
        for (i, r) in self.responders.iter().enumerate() {
            let key = |field: &str| format!("responders[{i}].{field}");
            if r.aws_principal
                .as_deref()
                .is_some_and(is_permission_set_role)
            {
                return Err(ConfigError::new(
                    key("aws_principal"),
                    "is an Identity Center permission-set role: trusting it trusts everyone with that permission set; set identity_center_user and [aws.identity_center] instead",
                ));
            }
            let Some(user) = &r.identity_center_user else {
                continue;
            };
            if r.aws_principal.is_some() {
                return Err(ConfigError::new(
                    key("identity_center_user"),
                    "give a responder either aws_principal or identity_center_user, not both: each grant trusts one identity",
                ));
            }
            if self.aws.identity_center.is_none() {
                return Err(ConfigError::new(
                    key("identity_center_user"),
                    "needs [aws.identity_center] role_arn: the permission-set role the user signs in with",
                ));
            }
            if !is_session_name(user) {
                return Err(ConfigError::new(
                    key("identity_center_user"),
                    "must be the Identity Center user name as a session name: 2 to 64 letters, digits or `+=,.@_-`",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const IC: &str = "[aws.identity_center]\nrole_arn = \"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Responder_0a1b\"\n";

    fn responder(fields: &str) -> String {
        format!("[[responders]]\nemail = \"alice@example.com\"\n{fields}\n")
    }

    #[test]
    fn identity_center_people_load() {
        let config = Config::from_toml_str(&format!(
            "{IC}{}",
            responder("identity_center_user = \"alice@example.com\"")
        ))
        .unwrap();
        assert_eq!(
            config.responders[0].identity_center_user.as_deref(),
            Some("alice@example.com")
        );
    }

    #[test]
    fn a_whole_permission_set_or_two_identities_or_no_role_are_refused() {
        for (toml, key, says) in [
            (
                responder("aws_principal = \"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Responder_0a1b\""),
                "responders[0].aws_principal",
                "trusts everyone with that permission set",
            ),
            (
                responder("aws_principal = \"arn:aws:iam::111122223333:role/AWSReservedSSO_Responder_0a1b\""),
                "responders[0].aws_principal",
                "trusts everyone with that permission set",
            ),
            (
                format!("{IC}{}", responder("aws_principal = \"arn:aws:iam::111122223333:user/alice\"\nidentity_center_user = \"alice\"")),
                "responders[0].identity_center_user",
                "not both",
            ),
            (
                responder("identity_center_user = \"alice@example.com\""),
                "responders[0].identity_center_user",
                "needs [aws.identity_center]",
            ),
            (
                format!("{IC}{}", responder("identity_center_user = \"alice smith\"")),
                "responders[0].identity_center_user",
                "2 to 64",
            ),
            (
                "[aws.identity_center]\nrole_arn = \"arn:aws:iam::111122223333:role/oncall\"\n".to_string(),
                "aws.identity_center.role_arn",
                "permission-set role",
            ),
            (
                "[aws.identity_center]\nrole_arn = \"arn:aws:iam::111122223333:user/AWSReservedSSO_x\"\n".to_string(),
                "aws.identity_center.role_arn",
                "permission-set role",
            ),
        ] {
            let e = Config::from_toml_str(&toml).expect_err("refused");
            assert_eq!(e.key, key, "{toml}: {e}");
            assert!(e.message.contains(says), "{toml}: {e}");
        }
    }
}
