//! The `reconcile_outbox` function: publishes outbox events the stream relay missed.

functions::lambda!(RECONCILE_OUTBOX);
