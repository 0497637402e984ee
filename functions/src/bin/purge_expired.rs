//! The `purge_expired` function: removes expired items on a schedule.

functions::lambda!(PURGE_EXPIRED);
