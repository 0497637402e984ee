//! What a request costs on AWS, from what it was measured to do: its Lambda duration at its
//! function's memory size, API Gateway's request price, and the DynamoDB read and write request
//! units of its store calls.
//!
//! The store calls are counted on the local store; their units follow DynamoDB's on-demand
//! rules from the items' sizes (strongly consistent reads: 1 unit per 4 KB read, rounded up
//! per call; index queries eventually consistent, half that; writes 1 unit per KB per item
//! and per index the item is in (every index projects all attributes); transactional writes
//! twice that, a condition check as a transactional write). An item's size is its attribute
//! names and values in UTF-8, which is DynamoDB's rule but for numbers, counted here as their
//! decimal digits.
//!
//! The duration is modelled, not measured on Lambda: the request's time in process minus its
//! time on the local store, scaled to the vCPU share Lambda gives the function's memory (one
//! vCPU at 1,769 MB), plus a DynamoDB round trip per round of store calls in sequence.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use shared::store::{Item, Write};

/// us-east-1 prices, on-demand, as published in 2025-2026, in USD.
pub(crate) mod prices {
    /// Lambda, arm64: per request and per GB-second.
    pub(crate) const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub(crate) const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// API Gateway HTTP API, per request (the first 300 million a month; a request is counted
    /// in 512 KB steps).
    pub(crate) const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// DynamoDB on-demand, per write and per read request unit.
    pub(crate) const WRITE_UNIT: f64 = 0.625 / 1e6;
    pub(crate) const READ_UNIT: f64 = 0.125 / 1e6;
}

/// The DynamoDB latency assumed per round of store calls, from Lambda in the same region: a
/// single-item call or a query, and a transaction (which runs two phases).
pub(crate) const CALL_LATENCY: Duration = Duration::from_millis(4);
pub(crate) const TRANSACTION_LATENCY: Duration = Duration::from_millis(12);

/// Memory at which Lambda gives a function one full vCPU.
const FULL_VCPU_MB: f64 = 1769.0;

/// Read and write request units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Units {
    pub(crate) read: f64,
    pub(crate) write: f64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Self) {
        self.read += other.read;
        self.write += other.write;
    }
}

impl Units {
    /// A strongly consistent GetItem; a missing item still costs a unit.
    pub(crate) fn get(item: Option<&Item>) -> Self {
        let size = item.map_or(0, size);
        Self {
            read: read_units(size),
            write: 0.0,
        }
    }

    /// A Query returning `items`: strongly consistent on the table, eventually on an index.
    pub(crate) fn query(on_index: bool, items: &[Item]) -> Self {
        let units = read_units(items.iter().map(size).sum());
        Self {
            read: if on_index { units / 2.0 } else { units },
            write: 0.0,
        }
    }

    /// A PutItem of `item`.
    pub(crate) fn put(item: &Item) -> Self {
        Self {
            read: 0.0,
            write: write_units(item),
        }
    }

    /// A DeleteItem or a counter's UpdateItem: small items, one unit.
    pub(crate) fn small_write() -> Self {
        Self {
            read: 0.0,
            write: 1.0,
        }
    }

    /// A TransactWriteItems of `writes`: twice the units of each write.
    pub(crate) fn transaction(writes: &[Write]) -> Self {
        let write = writes
            .iter()
            .map(|w| match w {
                Write::Put { item, .. } => 2.0 * write_units(item),
                Write::Delete { .. } | Write::Check { .. } => 2.0,
            })
            .sum();
        Self { read: 0.0, write }
    }
}

fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

/// One unit per KB on the table and on each index the item is in.
fn write_units(item: &Item) -> f64 {
    let per_copy = size(item).div_ceil(1024).max(1) as f64;
    let indexes = [
        item.gsi1.is_some(),
        item.gsi2.is_some(),
        item.expires_at.is_some(),
    ];
    per_copy * (1 + indexes.iter().filter(|&&i| i).count()) as f64
}

/// The item's size: names and values of its keys, index keys, expiry and attributes.
pub(crate) fn size(item: &Item) -> usize {
    let mut size = "pk".len() + item.key.pk.len() + "sk".len() + item.key.sk.len();
    for index in [&item.gsi1, &item.gsi2].into_iter().flatten() {
        size += "gsi1pk".len() + index.pk.len() + "gsi1sk".len() + index.sk.len();
    }
    if item.expires_at.is_some() {
        size += "ttl".len() + 10 + "exp_shard".len() + 2;
    }
    size + item
        .attrs
        .iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum::<usize>()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len(),
        Value::Array(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::Object(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

/// What one request of an endpoint was measured to do.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) function: &'static str,
    /// Time in process, without the time spent waiting on the local store.
    pub(crate) compute: Duration,
    /// The latency of each round of store calls in sequence, as assumed on DynamoDB.
    pub(crate) rounds: Vec<Duration>,
    pub(crate) units: Units,
}

/// A request's cost, in USD, by what is billed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) memory_mb: u32,
    pub(crate) billed_ms: u64,
    pub(crate) lambda: f64,
    pub(crate) api: f64,
    pub(crate) dynamodb: f64,
}

impl Cost {
    pub(crate) fn total(&self) -> f64 {
        self.lambda + self.api + self.dynamodb
    }
}

impl Request {
    pub(crate) fn cost(&self, memory: &Memory) -> Cost {
        let memory_mb = memory.of(self.function);
        let slowdown = (FULL_VCPU_MB / f64::from(memory_mb)).max(1.0);
        let duration = self.compute.mul_f64(slowdown) + self.rounds.iter().sum::<Duration>();
        let billed_ms = (duration.as_secs_f64() * 1000.0).ceil().max(1.0) as u64;
        let gb_seconds = f64::from(memory_mb) / 1024.0 * billed_ms as f64 / 1000.0;
        Cost {
            memory_mb,
            billed_ms,
            lambda: prices::LAMBDA_REQUEST + gb_seconds * prices::LAMBDA_GB_SECOND,
            api: prices::HTTP_API_REQUEST,
            dynamodb: self.units.read * prices::READ_UNIT + self.units.write * prices::WRITE_UNIT,
        }
    }
}

/// Each function's memory size, as template.yaml sets it.
#[derive(Debug)]
pub(crate) struct Memory {
    default: u32,
    by_handler: BTreeMap<String, u32>,
}

impl Memory {
    pub(crate) fn from_template() -> anyhow::Result<Self> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        let template: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path)?)?;
        let number = |v: &serde_yaml::Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        let default = number(&template["Globals"]["Function"]["MemorySize"])
            .ok_or_else(|| anyhow::anyhow!("no global MemorySize in template.yaml"))?;
        let mut by_handler = BTreeMap::new();
        if let Some(resources) = template["Resources"].as_mapping() {
            for resource in resources.values() {
                let properties = &resource["Properties"];
                if let Some(handler) = properties["Handler"].as_str() {
                    let memory = number(&properties["MemorySize"]).unwrap_or(default);
                    by_handler.insert(handler.to_owned(), memory);
                }
            }
        }
        Ok(Self {
            default,
            by_handler,
        })
    }

    pub(crate) fn of(&self, handler: &str) -> u32 {
        self.by_handler
            .get(handler)
            .copied()
            .unwrap_or(self.default)
    }
}

/// A typical hour of the API, by share of requests: reads of the caller's own state dominate,
/// sessions are refreshed every 15 minutes, sign-ins and sign-ups are rarer, administration is
/// a few percent.
pub(crate) const MIX: &[(&str, f64)] = &[
    ("profile", 25.0),
    ("refresh", 20.0),
    ("permissions", 10.0),
    ("get_user", 10.0),
    ("login", 8.0),
    ("list_users", 5.0),
    ("sessions", 4.0),
    ("logout", 3.0),
    ("update_user", 3.0),
    ("register", 2.0),
    ("verify_email", 2.0),
    ("user_roles", 2.0),
    ("list_roles", 2.0),
    ("list_jobs", 1.0),
    ("reset_password", 1.0),
    ("confirm_reset", 1.0),
    ("change_password", 1.0),
];

/// Prints the cost per million requests of each endpoint and of [`MIX`].
#[allow(clippy::print_stdout)]
pub(crate) fn print(requests: &[Request], memory: &Memory) {
    println!(
        "Cost per million requests, USD, us-east-1 on-demand prices: Lambda arm64 ${:.2}/M requests + ${:.10}/GB-s, \
         API Gateway HTTP API ${:.2}/M, DynamoDB ${:.3}/M write units, ${:.3}/M read units.\n\
         Duration modelled: time in process without the local store's, scaled to the memory's vCPU share (1 vCPU at {FULL_VCPU_MB} MB), \
         plus {} ms per round of single-item calls or queries and {} ms per transaction on DynamoDB; billed per started ms. \
         Units from the items' sizes (see functions/local/benches/support/cost.rs). Not included: logs, X-Ray, Secrets Manager (cached), \
         and the background work an event causes (relay, consumer, mail).",
        prices::LAMBDA_REQUEST * 1e6,
        prices::LAMBDA_GB_SECOND,
        prices::HTTP_API_REQUEST * 1e6,
        prices::WRITE_UNIT * 1e6,
        prices::READ_UNIT * 1e6,
        CALL_LATENCY.as_millis(),
        TRANSACTION_LATENCY.as_millis(),
    );
    println!(
        "| endpoint | memory | billed ms | read units | write units | Lambda | API Gateway | DynamoDB | total per million |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut costs = BTreeMap::new();
    for request in requests {
        let cost = request.cost(memory);
        costs.insert(request.function, cost);
        println!(
            "| {} | {} MB | {} | {:.1} | {:.0} | ${:.2} | ${:.2} | ${:.2} | ${:.2} |",
            request.function,
            cost.memory_mb,
            cost.billed_ms,
            request.units.read,
            request.units.write,
            cost.lambda * 1e6,
            cost.api * 1e6,
            cost.dynamodb * 1e6,
            cost.total() * 1e6,
        );
    }
    let mut mix = Cost::default();
    let weights: f64 = MIX.iter().map(|(_, w)| w).sum();
    for (function, weight) in MIX {
        let Some(cost) = costs.get(function) else {
            println!("(the mix names {function}, which was not measured)");
            continue;
        };
        let share = weight / weights;
        mix.lambda += cost.lambda * share;
        mix.api += cost.api * share;
        mix.dynamodb += cost.dynamodb * share;
    }
    let shares: Vec<String> = MIX.iter().map(|(f, w)| format!("{f} {w:.0}%")).collect();
    println!(
        "| typical mix ({}) | | | | | ${:.2} | ${:.2} | ${:.2} | ${:.2} |",
        shares.join(", "),
        mix.lambda * 1e6,
        mix.api * 1e6,
        mix.dynamodb * 1e6,
        mix.total() * 1e6,
    );
}
