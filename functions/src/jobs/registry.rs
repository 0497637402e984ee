//! The registry: job types erased behind their names, so the worker can run any of them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::jobs::{JobFailure, JobPayload, JobType};

#[async_trait]
trait Runner: Send + Sync + fmt::Debug {
    async fn run(&self, id: Uuid, payload: Value) -> Result<Value, JobFailure>;
    fn sensitive(&self) -> bool;
}

#[derive(Debug)]
struct Typed<J>(J);

#[async_trait]
impl<J: JobType> Runner for Typed<J> {
    async fn run(&self, id: Uuid, payload: Value) -> Result<Value, JobFailure> {
        let payload = serde_json::from_value(payload).map_err(|e| {
            JobFailure::Permanent(anyhow!(e).context(format!(
                "the payload is not a {} payload",
                J::Payload::JOB_TYPE
            )))
        })?;
        self.0.run_job(id, payload).await
    }

    fn sensitive(&self) -> bool {
        J::Payload::SENSITIVE
    }
}

/// Job types by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: BTreeMap<&'static str, Arc<dyn Runner>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job type; a later one of the same name replaces an earlier one.
    pub fn with<J: JobType>(mut self, job: J) -> Self {
        self.types
            .insert(J::Payload::JOB_TYPE, Arc::new(Typed(job)));
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.types.keys().copied()
    }

    /// Runs an attempt of the job `id`, of type `name`. An unknown type, or a payload that
    /// does not fit it, is a permanent failure.
    pub async fn run(&self, name: &str, id: Uuid, payload: Value) -> Result<Value, JobFailure> {
        match self.types.get(name) {
            Some(runner) => runner.run(id, payload).await,
            None => Err(JobFailure::Permanent(anyhow!(
                "no job type is registered as {name:?}"
            ))),
        }
    }

    pub fn is_sensitive(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|r| r.sensitive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Debug)]
    struct Double;

    #[derive(Debug, Serialize, Deserialize)]
    struct Number {
        n: i64,
    }

    impl JobPayload for Number {
        const JOB_TYPE: &'static str = "double";
    }

    #[async_trait]
    impl JobType for Double {
        type Payload = Number;
        async fn run(&self, payload: Number) -> Result<Value, JobFailure> {
            Ok(json!(payload.n * 2))
        }
    }

    #[tokio::test]
    async fn a_registered_type_runs_with_its_typed_payload() {
        let registry = Registry::new().with(Double);
        assert_eq!(
            registry
                .run("double", Uuid::nil(), json!({"n": 21}))
                .await
                .ok(),
            Some(json!(42))
        );
        assert_eq!(registry.names().collect::<Vec<_>>(), ["double"]);
        assert!(!registry.is_sensitive("double"));
    }

    #[tokio::test]
    async fn an_unknown_type_or_a_misfit_payload_fails_for_good() {
        let registry = Registry::new().with(Double);
        assert!(matches!(
            registry.run("triple", Uuid::nil(), json!({"n": 1})).await,
            Err(JobFailure::Permanent(_))
        ));
        assert!(matches!(
            registry.run("double", Uuid::nil(), json!({"n": "x"})).await,
            Err(JobFailure::Permanent(_))
        ));
    }
}
