//! Mailer adapters.

pub mod mailbox;
pub mod ses;
