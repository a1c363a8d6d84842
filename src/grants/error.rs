//! What can go wrong granting or revoking, and whether trying again may help: the revocation
//! engine backs off and retries the retryable ones; a grant that fails answers 502.

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

use super::PolicyError;

/// AWS error codes that mean "not now": retrying later may succeed.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "ServiceUnavailable",
    "ServiceFailure",
    "InternalFailure",
    "ConcurrentModification",
    // A policy was attached while the role was being deleted; the next revoke removes it.
    "DeleteConflict",
];

/// Why a grant or revocation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// An IAM call failed. `code` is AWS's error code (`Throttling`, `NoSuchEntity`, ...) or, for
    /// failures that never got an answer, `Timeout`, `DispatchFailure` or `ResponseError`.
    #[error("IAM {operation} failed ({code}): {message}")]
    Iam {
        operation: &'static str,
        code: String,
        message: String,
        /// Retrying the same call may succeed: throttling, 5xx, timeouts, network errors.
        retryable: bool,
    },
    #[error("the role's policy template is invalid: {0}")]
    Policy(#[from] PolicyError),
    /// The role name derived from this binding is taken by a role that is not this binding's.
    /// It is left alone: it is not ours to delete.
    #[error(
        "IAM role `{role_name}` already exists but belongs to {owner}, not binding `{binding_id}`"
    )]
    Conflict {
        role_name: String,
        binding_id: String,
        owner: String,
    },
    /// Any of the above, or the granter role not assumed, in a named account.
    #[error("in account {account}: {message}")]
    Account {
        account: String,
        message: String,
        retryable: bool,
        no_such_entity: bool,
    },
}

impl GrantError {
    /// Whether the same call may succeed later, so the caller should back off and retry.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            GrantError::Iam {
                retryable: true,
                ..
            } | GrantError::Account {
                retryable: true,
                ..
            }
        )
    }

    /// AWS's error code, for IAM failures.
    pub fn code(&self) -> Option<&str> {
        match self {
            GrantError::Iam { code, .. } => Some(code),
            _ => None,
        }
    }

    /// IAM says the role (or policy) does not exist: for a removal, that means done.
    pub fn is_no_such_entity(&self) -> bool {
        match self {
            GrantError::Account { no_such_entity, .. } => *no_such_entity,
            _ => self.code() == Some("NoSuchEntity"),
        }
    }
}

/// Name the failed call, keep AWS's code and message, and say whether retrying may help.
pub(super) fn iam_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> GrantError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message, retryable) = match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            let code = service.err().code().unwrap_or("Unknown").to_string();
            let retryable = status.is_server_error()
                || status.as_u16() == 429
                || RETRYABLE_CODES.contains(&code.as_str());
            let message = service.err().message().unwrap_or_default().to_string();
            (code, message, retryable)
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), context(&err), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".into(), context(&err), true),
        SdkError::ResponseError(_) => ("ResponseError".into(), context(&err), true),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".into(), context(&err), false),
        _ => ("Unknown".into(), context(&err), false),
    };
    GrantError::Iam {
        operation,
        code,
        message,
        retryable,
    }
}

/// The error and its causes on one line (`dispatch failure: io error: ... Connection refused`).
fn context<E: std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> String {
    chain(err)
}

/// Any error and its causes on one line, outermost first.
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
