//! A job's life on the AWS adapters: the table, its stream and the job queue with its
//! dead-letter queue on the emulator, driven as the local pipeline is: the relay publishes the
//! jobs the stream shows enqueued.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use functions::jobs::registry::Registry;
use functions::jobs::worker::Worker;
use functions::messaging::publisher::Publisher;
use functions::messaging::relay::Relay;
use infra::queue::sqs::SqsQueue;
use infra::store::dynamo::DynamoStore;
use local_system::queue_pump::QueuePump;
use shared::clock::{Clock, OsRandom, SystemClock};
use shared::jobs::{Job, JobRepo, NewJob, enqueue};
use shared::queue::Queue;
use shared::store::ItemStore;
use tests::moto::moto;
use tests::provision;
use tests::stream::{Filter, StreamPump, TableStream};
use uuid::Uuid;

use super::cases::{self, Lifecycle};
use super::{ATTEMPTS, Flaky};

/// SQS visibility timeouts are whole seconds, so the backoff is too.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// Long enough for backoffs of a second or two and the emulator's latency.
const DEADLINE: Duration = Duration::from_secs(30);

/// The job pipeline on the emulator: a DynamoDB table, an events queue, and a job queue whose
/// messages dead-letter after [`ATTEMPTS`] receives.
struct AwsPipeline {
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    repo: JobRepo,
    relay: Relay,
    /// The relay's trigger on the table's stream.
    stream: StreamPump,
    pump: QueuePump,
    jobs: Arc<dyn Queue>,
    worker: Arc<Worker>,
    dead_letters: SqsQueue,
}

impl AwsPipeline {
    async fn start(registry: Registry) -> anyhow::Result<Self> {
        let moto = moto().await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let table = provision::table(moto).await?;
        let stream = TableStream::of_table(moto, &table).await?;
        let store: Arc<dyn ItemStore> = Arc::new(DynamoStore::new(
            provision::dynamodb_client(moto),
            table,
            clock.clone(),
        ));
        let (events, _) = provision::queue_pair(moto, ATTEMPTS).await?;
        let (jobs, dead_letters) = provision::queue_pair(moto, ATTEMPTS).await?;
        let jobs: Arc<dyn Queue> = Arc::new(jobs);
        let worker = Worker::new(store.clone(), jobs.clone(), clock.clone(), registry)
            .with_backoff(BACKOFF_BASE, BACKOFF_CAP);
        let worker = Arc::new(worker);
        let pump = QueuePump::new("jobs", jobs.clone(), worker.clone())
            .with_timing(Duration::from_secs(10), Duration::from_secs(1));
        let relay = Relay::new(
            Publisher::new(Arc::new(events), jobs.clone()),
            store.clone(),
            clock.clone(),
        );
        Ok(Self {
            stream: StreamPump::latest(stream, Filter::relay()?).await?,
            repo: JobRepo::new(store.clone()),
            store,
            clock,
            relay,
            pump,
            jobs,
            worker,
            dead_letters,
        })
    }

    async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job> {
        let new = job.max_attempts(ATTEMPTS);
        Ok(enqueue(self.store.as_ref(), self.clock.as_ref(), &OsRandom, new).await?)
    }

    async fn job(&self, id: Uuid) -> anyhow::Result<Job> {
        self.repo
            .get(id)
            .await?
            .with_context(|| format!("job {id} is gone"))
    }

    /// Relays what the stream shows and hands the relay's failures back as an error.
    async fn publish(&self) -> anyhow::Result<()> {
        let pumped = self.stream.drain(&self.relay).await?;
        anyhow::ensure!(pumped.failed_at.is_none(), "the relay failed: {pumped:?}");
        Ok(())
    }

    /// Relays the stream and pumps the job queue until the job is finished, for at most
    /// [`DEADLINE`].
    async fn run_until_final(&self, id: Uuid) -> anyhow::Result<Job> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let job = self.job(id).await?;
            if job.status.is_final() {
                return Ok(job);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "job {id} never finished; it is {} after {} attempts",
                    job.status,
                    job.attempts
                );
            }
            self.publish().await?;
            self.pump.pump_once().await?;
        }
    }
}

#[async_trait]
impl Lifecycle for AwsPipeline {
    async fn enqueue(&self, job: NewJob) -> anyhow::Result<Job> {
        AwsPipeline::enqueue(self, job).await
    }

    async fn run_until_final(&self, id: Uuid) -> anyhow::Result<Job> {
        AwsPipeline::run_until_final(self, id).await
    }

    async fn receive_once(&self) -> anyhow::Result<usize> {
        Ok(self.pump.pump_once().await?.received)
    }

    async fn dead_letters(&self) -> anyhow::Result<Vec<String>> {
        let letters = self
            .dead_letters
            .receive(10, Duration::from_secs(30), Duration::from_secs(5))
            .await?;
        Ok(letters.into_iter().map(|m| m.body).collect())
    }

    async fn publish(&self) -> anyhow::Result<()> {
        AwsPipeline::publish(self).await
    }

    fn jobs_queue(&self) -> Arc<dyn Queue> {
        self.jobs.clone()
    }

    fn worker(&self) -> Arc<Worker> {
        self.worker.clone()
    }

    async fn job(&self, id: Uuid) -> anyhow::Result<Job> {
        AwsPipeline::job(self, id).await
    }
}

#[tokio::test]
async fn a_job_failing_twice_then_succeeding_on_sqs_ends_succeeded_after_three_attempts()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = AwsPipeline::start(Registry::new().with(flaky.clone())).await?;
    cases::a_job_failing_twice_then_succeeding_ends_succeeded_after_three_attempts(&system, &flaky)
        .await
}

#[tokio::test]
async fn a_job_that_always_fails_on_sqs_ends_dead_with_its_message_in_the_dead_letter_queue()
-> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = AwsPipeline::start(Registry::new().with(flaky.clone())).await?;
    cases::a_job_that_always_fails_ends_dead_with_its_message_in_the_dead_letter_queue(
        &system, &flaky,
    )
    .await
}

#[tokio::test]
async fn a_batch_on_sqs_reports_exactly_the_messages_of_the_jobs_that_failed() -> anyhow::Result<()>
{
    let flaky = Flaky::default();
    let system = AwsPipeline::start(Registry::new().with(flaky.clone())).await?;
    cases::a_batch_reports_exactly_the_messages_of_the_jobs_that_failed(&system).await
}

#[tokio::test]
async fn a_job_message_delivered_twice_on_sqs_runs_the_job_once() -> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = AwsPipeline::start(Registry::new().with(flaky.clone())).await?;
    cases::a_job_message_delivered_twice_runs_the_job_once(&system, &flaky).await
}
