//! Authentication endpoints, one file each, and the authorization guard every endpoint goes
//! through ([`guard`]).

pub mod change_password;
pub mod confirm_reset;
pub mod delete_session;
pub mod errors;
pub mod guard;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod logout_all;
pub mod permissions;
pub mod profile;
pub mod refresh;
pub mod register;
pub mod resend_verification;
pub mod reset_password;
pub mod sessions;
pub mod verify_email;
pub mod views;
