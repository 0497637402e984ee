//! What happens to users, as events: each payload declared once here, written by the use case
//! that makes the change and read by every reaction to it.
//!
//! Payloads name the user and carry facts, never an address, a token or a password.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::messaging::event::{EventPayload, EventType};

/// `user.registered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    /// Accounts created verified (by an administrator) get a welcome instead of a link.
    #[serde(default)]
    pub verified: bool,
}

/// `user.email_verification_requested`: a new verification link was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerificationRequested {
    pub user_id: Uuid,
}

/// `user.password_reset_requested`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequested {
    pub user_id: Uuid,
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
