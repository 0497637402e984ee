//! Mailer adapters.

pub mod ses;
pub mod mailbox;
