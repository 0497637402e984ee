//! The local event runtime feeding real handlers the real Lambda event types: the queue pump,
//! the change feed pump and the scheduler.

mod crash;
mod crash_loop;
mod feed;
mod hostile;
mod queue;
mod schedule;
