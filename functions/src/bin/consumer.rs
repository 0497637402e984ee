//! The `consumer` function: runs the reactions to the events on the events queue.

functions::lambda!(CONSUMER);
