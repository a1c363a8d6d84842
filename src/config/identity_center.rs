//! IAM Identity Center people: `[aws.identity_center]` names the permission-set role responders
//! sign in with, and a responder's `identity_center_user` their Identity Center user name.
//!
//! Identity Center signs a person in by creating a session of the permission-set role
//! (`AWSReservedSSO_<set>_<suffix>`) named after their user name. Everyone with that permission
//! set holds a session of the same role, so trusting the role trusts all of them. What names one
//! person is the session: `arn:aws:sts::<account>:assumed-role/<role name>/<user name>`, which
//! IAM accepts as a trust policy's principal ("role session principal"). Only Identity Center
//! can create sessions of the permission-set role (AWS protects its trust policy), so nobody
//! else can hold a session of that name.

use serde::Deserialize;

/// `[aws.identity_center]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityCenter {
    /// The permission-set role's ARN, with its path:
    /// `arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/[<region>/]AWSReservedSSO_<set>_<suffix>`.
    pub role_arn: String,
}

impl IdentityCenter {
    /// The session principal of `user` in the permission-set role; `None` when `role_arn` is
    /// not a role ARN (the config refuses that at load).
    pub fn session_principal(&self, user: &str) -> Option<String> {
        let (partition, account, name) = role_parts(&self.role_arn)?;
        Some(format!(
            "arn:{partition}:sts::{account}:assumed-role/{name}/{user}"
        ))
    }
}

/// Whether `arn` is an Identity Center permission-set role: trusting it admits everyone who
/// has the permission set, never one person.
pub fn is_permission_set_role(arn: &str) -> bool {
    role_parts(arn).is_some_and(|(_, _, name)| name.starts_with("AWSReservedSSO_"))
        || arn.contains(":role/aws-reserved/sso.amazonaws.com/")
}

/// `arn:<partition>:iam::<account>:role/<path>/<name>` as (partition, account, name).
fn role_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts[..] else {
        return None;
    };
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (!name.is_empty() && account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
        .then_some((partition, account, name))
}

/// Whether `user` can be a role session name, as Identity Center makes it from the user name:
/// 2 to 64 letters, digits or `+=,.@_-`.
pub fn is_session_name(user: &str) -> bool {
    (2..=64).contains(&user.len())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-2/AWSReservedSSO_Responder_0123456789abcdef";

    #[test]
    fn the_session_principal_names_the_role_without_its_path_and_the_user() {
        let ic = IdentityCenter {
            role_arn: ROLE.into(),
        };
        assert_eq!(
            ic.session_principal("alice@example.com").unwrap(),
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Responder_0123456789abcdef/alice@example.com"
        );
        let us_east = IdentityCenter {
            role_arn: "arn:aws-us-gov:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_R_1".into(),
        };
        assert_eq!(
            us_east.session_principal("bob").unwrap(),
            "arn:aws-us-gov:sts::111122223333:assumed-role/AWSReservedSSO_R_1/bob"
        );
        for bad in [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:sts::111122223333:role/x",
            "arn:aws:iam::1111:role/x",
            "arn:aws:iam::111122223333:role/",
            "not an arn",
        ] {
            let ic = IdentityCenter {
                role_arn: bad.into(),
            };
            assert_eq!(ic.session_principal("bob"), None, "{bad}");
        }
    }

    #[test]
    fn permission_set_roles_are_recognised_by_name_or_path() {
        assert!(is_permission_set_role(ROLE));
        assert!(is_permission_set_role(
            "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_1"
        ));
        assert!(is_permission_set_role(
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/Other"
        ));
        assert!(!is_permission_set_role(
            "arn:aws:iam::111122223333:role/oncall"
        ));
        assert!(!is_permission_set_role(
            "arn:aws:iam::111122223333:user/AWSReservedSSO_x"
        ));
        assert!(!is_permission_set_role(
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_R_1/alice"
        ));
    }

    #[test]
    fn session_names_follow_sts() {
        assert!(is_session_name("alice@example.com"));
        assert!(is_session_name("a+b=c,d.e@f_g-h"));
        assert!(!is_session_name("a"));
        assert!(!is_session_name(&"a".repeat(65)));
        assert!(is_session_name(&"a".repeat(64)));
        assert!(!is_session_name("alice smith"));
        assert!(!is_session_name("alice/x"));
    }
}
