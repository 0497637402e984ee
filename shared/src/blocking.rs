//! Blocking work (a password hash, a local-store write) awaited by an async caller.

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinError;

/// Runs `work`, which blocks, for an async caller that waits for its result.
///
/// On a multi-threaded runtime (the local system) the caller's worker thread runs it itself
/// (`block_in_place`), handing its other tasks to another worker: the caller is not parked
/// while a pool thread works and woken after, two thread wake-ups that on an idle virtual
/// machine cost about 0.3 ms a hop, a fifth of what a login adds to its hash. On a
/// current-thread runtime (a Lambda function, the tests), which cannot give its one thread
/// away, it goes to the blocking pool.
pub async fn blocking<T, F>(work: F) -> Result<T, JoinError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => Ok(tokio::task::block_in_place(work)),
        _ => tokio::task::spawn_blocking(work).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_multi_threaded_runtime_runs_the_work_on_the_callers_thread() {
        let caller = std::thread::current().id();
        let ran_on = blocking(|| std::thread::current().id()).await.unwrap();
        assert_eq!(ran_on, caller);
    }

    #[tokio::test]
    async fn a_current_thread_runtime_runs_it_on_the_blocking_pool() {
        let caller = std::thread::current().id();
        let ran_on = blocking(|| std::thread::current().id()).await.unwrap();
        assert_ne!(ran_on, caller);
    }
}
