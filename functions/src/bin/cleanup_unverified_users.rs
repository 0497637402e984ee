//! The `cleanup_unverified_users` function: removes accounts never verified in time.

functions::lambda!(CLEANUP_UNVERIFIED_USERS);
