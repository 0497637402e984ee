//! The `worker` function: runs the jobs of the job queue.

functions::lambda!(WORKER);
