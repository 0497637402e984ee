//! The table's DynamoDB stream on the emulator, read as Lambda's event source mapping reads it
//! for the relay: `GetShardIterator` and `GetRecords`, the records of each read filtered by the
//! trigger's `FilterCriteria` in template.yaml, handed to a [`StreamHandler`] as the Lambda
//! event, and the position moved past what succeeded (`ReportBatchItemFailures`).
//!
//! The emulator serves DynamoDB Streams on its one endpoint. The calls are plain JSON over HTTP:
//! a stream record in the `GetRecords` answer is already in the shape of a record of the
//! Lambda event, in DynamoDB JSON, so [`EventRecord`] reads it as it stands.
//!
//! A pump keeps its position as a sequence number and asks for a fresh iterator at each read,
//! as the event source mapping checkpoints; it never carries an iterator from one read to the
//! next. On the emulator that matters: a cancelled transaction restores a copy of the table,
//! stream included, so an iterator taken before it still reads the discarded stream (with the
//! records of the cancelled writes, which AWS never shows) and never what was written after.
//!
//! Like the local feed pump and unlike Lambda, a record that keeps failing is retried for ever
//! (no `MaximumRetryAttempts`, no bisecting): the cases drive each retry themselves.

use std::sync::Mutex;

use anyhow::{Context, bail, ensure};
use aws_lambda_events::dynamodb::{Event, EventRecord};
use chrono::{DateTime, Utc};
use functions::trigger::StreamHandler;
use serde_json::{Value, json};

use crate::moto::{self, Moto};
use crate::provision;
use crate::template::Template;

/// Records per read, the relay trigger's `BatchSize`.
pub const BATCH: usize = 100;

/// The stream of one table.
#[derive(Debug, Clone)]
pub struct TableStream {
    client: reqwest::Client,
    endpoint: String,
    arn: String,
    shard: String,
}

impl TableStream {
    /// The stream of `table`, which must have one.
    pub async fn of_table(moto: &Moto, table: &str) -> anyhow::Result<Self> {
        let described = provision::dynamodb_client(moto)
            .describe_table()
            .table_name(table)
            .send()
            .await
            .with_context(|| format!("describing table {table}"))?;
        let arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .with_context(|| format!("table {table} has no stream"))?
            .to_owned();
        let mut stream = Self {
            client: reqwest::Client::new(),
            endpoint: moto.endpoint().to_owned(),
            arn,
            shard: String::new(),
        };
        let description = stream
            .call("DescribeStream", json!({ "StreamArn": stream.arn }))
            .await?;
        let description = &description["StreamDescription"];
        let template = Template::load()?;
        let declared = template.doc["Resources"]["Table"]["Properties"]["StreamSpecification"]
            ["StreamViewType"]
            .as_str()
            .context("template.yaml's table declares no stream")?;
        ensure!(
            description["StreamViewType"] == declared,
            "the stream shows {declared} in template.yaml: {description}"
        );
        // The emulator keeps a stream in one shard for ever. AWS splits and closes shards, and
        // a reader follows each closed shard's children; this one knows a single shard.
        let shards = description["Shards"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let [shard] = shards.as_slice() else {
            bail!("a stream of one shard expected: {description}");
        };
        stream.shard = shard["ShardId"]
            .as_str()
            .context("a shard without an id")?
            .to_owned();
        Ok(stream)
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// An iterator at the oldest record the stream keeps.
    pub async fn trim_horizon(&self) -> anyhow::Result<String> {
        self.iterator(json!({ "ShardIteratorType": "TRIM_HORIZON" }))
            .await
    }

    /// An iterator at the record with this sequence number, to read it again.
    pub async fn at(&self, sequence: &str) -> anyhow::Result<String> {
        self.iterator(json!({
            "ShardIteratorType": "AT_SEQUENCE_NUMBER",
            "SequenceNumber": sequence,
        }))
        .await
    }

    /// An iterator just past the record with this sequence number.
    pub async fn after(&self, sequence: &str) -> anyhow::Result<String> {
        self.iterator(json!({
            "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
            "SequenceNumber": sequence,
        }))
        .await
    }

    /// The sequence number of the newest record, `None` while the stream is empty: where a
    /// mapping with `StartingPosition: LATEST` starts from. (A `LATEST` iterator would do on
    /// AWS; on the emulator it is bound to the stream as it is now, see the module's note.)
    pub async fn tip(&self) -> anyhow::Result<Option<String>> {
        let mut iterator = self.trim_horizon().await?;
        let mut last = None;
        loop {
            let (records, next) = self.read(&iterator, BATCH).await?;
            let Some(newest) = records.last() else {
                return Ok(last);
            };
            last.clone_from(&newest.change.sequence_number);
            iterator = next;
        }
    }

    async fn iterator(&self, mut request: Value) -> anyhow::Result<String> {
        request["StreamArn"] = json!(self.arn);
        request["ShardId"] = json!(self.shard);
        let answer = self.call("GetShardIterator", request).await?;
        Ok(answer["ShardIterator"]
            .as_str()
            .with_context(|| format!("no shard iterator in {answer}"))?
            .to_owned())
    }

    /// Up to `limit` records from `iterator`, as Lambda hands them to a function, and the
    /// iterator after them.
    pub async fn read(
        &self,
        iterator: &str,
        limit: usize,
    ) -> anyhow::Result<(Vec<EventRecord>, String)> {
        let answer = self
            .call(
                "GetRecords",
                json!({ "ShardIterator": iterator, "Limit": limit }),
            )
            .await?;
        let next = answer["NextShardIterator"]
            .as_str()
            .with_context(|| format!("the shard is closed: {answer}"))?
            .to_owned();
        let records = answer["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|record| self.lambda_record(record))
            .collect::<anyhow::Result<_>>()?;
        Ok((records, next))
    }

    /// A `GetRecords` record as the event source mapping delivers it: the same fields, plus
    /// the stream's ARN.
    fn lambda_record(&self, record: &Value) -> anyhow::Result<EventRecord> {
        let mut record: EventRecord = serde_json::from_value(record.clone())
            .with_context(|| format!("reading a stream record: {record}"))?;
        record.event_source_arn = Some(self.arn.clone());
        // AWS gives the creation time in whole seconds, rounded down; the emulator keeps the
        // fraction. The handler gets what AWS would give it.
        let at = record.change.approximate_creation_date_time;
        record.change.approximate_creation_date_time =
            DateTime::<Utc>::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        // The emulator writes "1.0" where AWS writes "1.1" (the version of the record format
        // since 2014); nothing reads it, but the handler gets AWS's.
        record.event_version = Some("1.1".to_owned());
        Ok(record)
    }

    async fn call(&self, action: &str, request: Value) -> anyhow::Result<Value> {
        // The emulator picks the service from the credential scope and the target, and checks
        // no signature.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=0",
            moto::REGION
        );
        let response = self
            .client
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("X-Amz-Target", format!("DynamoDBStreams_20120810.{action}"))
            .header("Authorization", authorization)
            .body(request.to_string())
            .send()
            .await
            .with_context(|| format!("calling {action}"))?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{action} answered {status}: {text}");
        serde_json::from_str(&text).with_context(|| format!("{action} answered {text}"))
    }
}

/// Which records of a read a function is invoked with: an event source mapping's
/// `FilterCriteria`, the subset of the event pattern syntax the template uses (a list of
/// values, or `{"prefix": ...}`, at each leaf).
#[derive(Debug, Clone)]
pub struct Filter {
    patterns: Vec<Value>,
}

impl Filter {
    /// The relay trigger's filters in template.yaml.
    pub fn relay() -> anyhow::Result<Self> {
        let template = Template::load()?;
        let filters = template.doc["Resources"]["RelayFunction"]["Properties"]["Events"]
            ["TableStream"]["Properties"]["FilterCriteria"]["Filters"]
            .as_sequence()
            .context("the relay's trigger has no FilterCriteria")?;
        let patterns = filters
            .iter()
            .map(|filter| {
                let pattern = filter["Pattern"]
                    .as_str()
                    .context("a filter without a pattern")?;
                serde_json::from_str(pattern).with_context(|| format!("the pattern {pattern}"))
            })
            .collect::<anyhow::Result<Vec<Value>>>()?;
        ensure!(!patterns.is_empty(), "the relay's trigger filters nothing");
        Ok(Self { patterns })
    }

    /// Every record passes.
    pub fn none() -> Self {
        Self {
            patterns: vec![json!({})],
        }
    }

    /// Whether any pattern matches the record.
    pub fn admits(&self, record: &EventRecord) -> anyhow::Result<bool> {
        let record = serde_json::to_value(record)?;
        Ok(self.patterns.iter().any(|p| matches(p, &record)))
    }
}

fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, field)| value.get(name).is_some_and(|v| matches(field, v))),
        Value::Array(alternatives) => alternatives.iter().any(|alternative| match alternative {
            Value::Object(rule) => match (rule.get("prefix"), value) {
                (Some(Value::String(prefix)), Value::String(s)) => s.starts_with(prefix.as_str()),
                _ => false,
            },
            exact => exact == value,
        }),
        _ => false,
    }
}

/// What one turn of a [`StreamPump`] came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pumped {
    /// Records read from the stream.
    pub read: usize,
    /// Records handed to the handler, after the filter.
    pub delivered: usize,
    /// The sequence number reading resumes at, when part of the batch failed.
    pub failed_at: Option<String>,
}

/// What a pump did over its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpTotals {
    pub reads: usize,
    pub records: usize,
    pub delivered: usize,
    /// Batches that failed, in part or whole.
    pub failures: usize,
}

/// The event source mapping of one function on the stream: its filter and its position. The
/// function is given at each turn, so a case can hand one batch to a failing function and its
/// retry to a sound one, as a deployment between two invocations would.
#[derive(Debug)]
pub struct StreamPump {
    stream: TableStream,
    filter: Filter,
    position: Mutex<Position>,
    totals: Mutex<PumpTotals>,
}

#[derive(Debug, Clone)]
enum Position {
    /// Nothing read yet, from an empty stream.
    Start,
    /// Reading goes on after this record.
    After(String),
    /// Reading starts again at this record, which failed.
    At(String),
}

impl StreamPump {
    /// A mapping starting at the stream's tip, as the relay's (`StartingPosition: LATEST`):
    /// it sees what is written after this.
    pub async fn latest(stream: TableStream, filter: Filter) -> anyhow::Result<Self> {
        let start = match stream.tip().await? {
            Some(newest) => Position::After(newest),
            None => Position::Start,
        };
        Ok(Self {
            stream,
            filter,
            position: Mutex::new(start),
            totals: Mutex::default(),
        })
    }

    pub fn stream(&self) -> &TableStream {
        &self.stream
    }

    pub fn totals(&self) -> PumpTotals {
        *self.totals.lock().unwrap()
    }

    /// The next batch, neither delivered nor consumed: what the next turn will hand over.
    pub async fn peek(&self) -> anyhow::Result<Event> {
        let records = self.read().await?;
        self.batch(records)
    }

    /// Reads once from the position, hands the records the filter admits to the handler (if
    /// any), and moves the position past what succeeded. As with `ReportBatchItemFailures`:
    /// reading resumes at the first record reported failed; a handler error, or a failure
    /// naming no record of the batch, has the whole read again.
    pub async fn pump_once(&self, handler: &dyn StreamHandler) -> anyhow::Result<Pumped> {
        let records = self.read().await?;
        let read = records.len();
        let first = records
            .first()
            .and_then(|r| r.change.sequence_number.clone());
        let last = records
            .last()
            .and_then(|r| r.change.sequence_number.clone());
        let event = self.batch(records)?;
        let delivered = event.records.len();
        let failed_at = if delivered == 0 {
            None
        } else {
            let sequences: Vec<Option<String>> = event
                .records
                .iter()
                .map(|r| r.change.sequence_number.clone())
                .collect();
            match handler.handle(event).await {
                Ok(response) => {
                    let named: Vec<Option<&String>> = response
                        .batch_item_failures
                        .iter()
                        .map(|f| {
                            f.item_identifier
                                .as_ref()
                                .filter(|id| sequences.contains(&Some((*id).clone())))
                        })
                        .collect();
                    if named.iter().all(Option::is_some) {
                        // The earliest in stream order: sequence numbers grow, as decimals.
                        named
                            .into_iter()
                            .flatten()
                            .min_by_key(|s| (s.len(), (*s).clone()))
                            .cloned()
                    } else {
                        first.clone()
                    }
                }
                Err(error) => {
                    tracing::error!(error = %format_args!("{error:#}"), "the stream batch failed");
                    first.clone()
                }
            }
        };
        let moved = match (&failed_at, last) {
            (Some(sequence), _) => Some(Position::At(sequence.clone())),
            (None, Some(last)) => Some(Position::After(last)),
            (None, None) => None,
        };
        if let Some(position) = moved {
            *self.position.lock().unwrap() = position;
        }
        let mut totals = self.totals.lock().unwrap();
        totals.reads += 1;
        totals.records += read;
        totals.delivered += delivered;
        totals.failures += usize::from(failed_at.is_some());
        Ok(Pumped {
            read,
            delivered,
            failed_at,
        })
    }

    /// Pumps until a read finds nothing new or a batch fails; the last turn's outcome.
    pub async fn drain(&self, handler: &dyn StreamHandler) -> anyhow::Result<Pumped> {
        loop {
            let pumped = self.pump_once(handler).await?;
            if pumped.read == 0 || pumped.failed_at.is_some() {
                return Ok(pumped);
            }
        }
    }

    async fn read(&self) -> anyhow::Result<Vec<EventRecord>> {
        let position = self.position.lock().unwrap().clone();
        let iterator = match position {
            Position::Start => self.stream.trim_horizon().await?,
            Position::After(sequence) => self.stream.after(&sequence).await?,
            Position::At(sequence) => self.stream.at(&sequence).await?,
        };
        Ok(self.stream.read(&iterator, BATCH).await?.0)
    }

    fn batch(&self, records: Vec<EventRecord>) -> anyhow::Result<Event> {
        let mut event = Event::default();
        for record in records {
            if self.filter.admits(&record)? {
                event.records.push(record);
            }
        }
        Ok(event)
    }
}
