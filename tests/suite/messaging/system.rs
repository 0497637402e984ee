//! The local event runtime end to end: a change and its event, written in one transaction,
//! reach a reaction through the change feed, the relay, the events queue and the consumer,
//! and a crash of the runtime loses nothing.

