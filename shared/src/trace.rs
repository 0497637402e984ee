//! The trace a piece of work belongs to: the X-Ray trace id of the request that started it,
//! carried from the request into the events it records and the jobs those cause, so one id
//! finds the request, its events and its jobs in the logs.
//!
//! Set for the duration of a unit of work ([`scope`]: a request, an event's handling, a job's
//! attempt) and read where an event or a job is made ([`current`]).

tokio::task_local! {
    static CURRENT: Option<String>;
}

/// Runs `work` as part of `trace`.
pub async fn scope<F: Future>(trace: Option<String>, work: F) -> F::Output {
    CURRENT.scope(trace, work).await
}

/// The trace of the work in progress, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// The trace id (`1-5759e988-bd862e3fe1be46a994272793`) of an X-Ray trace header
/// (`Root=1-...;Parent=...;Sampled=1`); `None` when it names none or holds anything but its
/// printable form.
pub fn root_of(header: &str) -> Option<String> {
    let root = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))?;
    let plausible = (1..=64).contains(&root.len())
        && root.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    plausible.then(|| root.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_of_a_trace_header_is_its_id() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(
            root_of(header).as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(root_of("Parent=53995c3f42cd8ad8"), None);
        assert_eq!(root_of("Root=1-abc\n-injected"), None);
    }

    #[tokio::test]
    async fn work_sees_its_trace_and_nothing_outside_it() {
        assert_eq!(current(), None);
        let seen = scope(Some("1-abc".to_owned()), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("1-abc"));
        assert_eq!(current(), None);
    }
}
