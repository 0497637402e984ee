//! Mailer adapters.

pub mod mailbox;
