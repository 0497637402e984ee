//! The `redrive_stuck_jobs` function: queues again the jobs a dead worker left running.

functions::lambda!(REDRIVE_STUCK_JOBS);
