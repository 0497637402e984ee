//! What happens to users, as events: each payload declared once here, written by the use case
//! that makes the change and read by every reaction to it.
//!
//! Payloads name the user and carry facts, never a token or a password, and an address only
//! where a request names no account: a reset or a verification link asked for by address.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::messaging::event::{EventPayload, EventType};
use crate::users::Email;

/// `user.registered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    /// Accounts created verified (by an administrator) get a welcome instead of a link.
    #[serde(default)]
    pub verified: bool,
}

/// `user.email_verification_requested`: a new verification link was asked for, by address.
///
/// Written whether an account has the address or not, so the request does the same work
/// either way and its timing tells nothing; the mail job looks the account up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerificationRequested {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Set by events written before requests were by address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

/// `user.password_reset_requested`, by address, like [`EmailVerificationRequested`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequested {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Set by events written before requests were by address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

/// `user.password_changed`, by the user or through a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChanged {
    pub user_id: Uuid,
}

/// `user.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDeleted {
    pub user_id: Uuid,
    /// The avatar blob to delete with the rest of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_key: Option<String>,
}

impl EventPayload for UserRegistered {
    const TYPE: EventType = EventType::UserRegistered;
}

impl EventPayload for EmailVerificationRequested {
    const TYPE: EventType = EventType::UserEmailVerificationRequested;
}

impl EventPayload for PasswordResetRequested {
    const TYPE: EventType = EventType::UserPasswordResetRequested;
}

impl EventPayload for PasswordChanged {
    const TYPE: EventType = EventType::UserPasswordChanged;
}

impl EventPayload for UserDeleted {
    const TYPE: EventType = EventType::UserDeleted;
}
