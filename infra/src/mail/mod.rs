//! Mailer adapters.

pub mod ses;
