//! How the identity use cases' errors read over HTTP.

use shared::accounts::AccountError;

use crate::http::{ApiError, FieldError};

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        let detail = error.to_string();
        match error {
            AccountError::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                detail,
            },
            AccountError::InvalidCredentials => ApiError::Unauthorized {
                code: "invalid_credentials",
                detail,
            },
            AccountError::EmailNotVerified => ApiError::Forbidden {
                code: "email_not_verified",
                detail,
            },
            AccountError::AccountDisabled => ApiError::Forbidden {
                code: "account_disabled",
                detail,
            },
            AccountError::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            AccountError::InvalidToken => ApiError::BadRequest {
                code: "invalid_token",
                detail,
            },
            AccountError::InvalidRefreshToken | AccountError::RefreshTokenReused => {
                ApiError::Unauthorized {
                    code: "invalid_refresh_token",
                    detail,
                }
            }
            AccountError::WrongCurrentPassword => ApiError::Validation(vec![FieldError::new(
                "current_password",
                "is not the current password",
            )]),
            AccountError::NotFound => ApiError::NotFound,
            AccountError::Stale => ApiError::PreconditionFailed,
            AccountError::LastAdmin(_) => ApiError::Conflict {
                code: "last_admin",
                detail,
            },
            AccountError::Unexpected(e) => ApiError::Internal(e),
        }
    }
}

/// One field that must parse; a `validation_failed` problem naming it otherwise.
pub fn field<T, E: std::fmt::Display>(name: &str, parsed: Result<T, E>) -> Result<T, ApiError> {
    parsed.map_err(|e| ApiError::Validation(vec![FieldError::new(name, e.to_string())]))
}

/// The error of one field, if it failed.
pub fn invalid(name: &str, error: Option<impl std::fmt::Display>) -> Option<FieldError> {
    error.map(|e| FieldError::new(name, e.to_string()))
}
