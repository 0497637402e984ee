//! Mailer adapters.

#[cfg(feature = "local")]
pub mod mailbox;
#[cfg(feature = "aws")]
pub mod ses;
