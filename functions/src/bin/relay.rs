//! The `relay` function: publishes the outbox events on the table's stream.

functions::lambda!(RELAY);
