//! The feed pump: the local store's changes reach a stream consumer in order, as DynamoDB
//! stream records with both images, and a failure resumes at the failed record.

use std::sync::{Arc, Mutex};

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{TimeDelta, Utc};
use functions::trigger::handler_fn;
use infra::local_db::LocalDb;
use infra::store::sqlite::LocalStore;
use local_system::feed_pump::{FeedOutcome, FeedPump};
use serde_json::{Value, json};
use shared::clock::{Clock, ManualClock};
use shared::store::{Item, ItemStore, Key};

struct Fixture {
    clock: Arc<ManualClock>,
    store: Arc<LocalStore>,
    seen: Arc<Mutex<Vec<EventRecord>>>,
    _dir: tempfile::TempDir,
}

fn fixture() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let store = Arc::new(LocalStore::new(
        LocalDb::open(&dir.path().join("local.db"))?,
        clock.clone(),
    ));
    Ok(Fixture {
        clock,
        store,
        seen: Arc::default(),
        _dir: dir,
    })
}

impl Fixture {
    /// A consumer that records every record and reports failed those whose new image has
    /// `"fail": true`.
    fn pump(&self, consumer: &str) -> FeedPump {
        let seen = self.seen.clone();
        let handler = handler_fn(move |event: Event| {
            let seen = seen.clone();
            async move {
                let mut response = DynamoDbEventResponse::default();
                for record in event.records {
                    let fails = serde_json::to_value(&record.change.new_image)?["fail"]
                        == json!({"BOOL": true});
                    if fails && response.batch_item_failures.is_empty() {
                        let mut failure = DynamoDbBatchItemFailure::default();
                        failure.item_identifier = record.change.sequence_number.clone();
                        response.batch_item_failures.push(failure);
                    }
                    seen.lock().unwrap().push(record);
                }
                Ok(response)
            }
        });
        FeedPump::new(consumer, self.store.clone(), Arc::new(handler))
    }

    fn seen(&self) -> Vec<EventRecord> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn item(name: &str, extra: Value) -> Item {
    let mut attrs = json!({ "name": name }).as_object().cloned().unwrap();
    attrs.extend(extra.as_object().cloned().unwrap());
    Item::new(Key::new("user#1", "profile"), attrs)
}

fn image_name(image: &impl serde::Serialize) -> Value {
    serde_json::to_value(image)
        .map(|v| v["name"]["S"].clone())
        .unwrap()
}

#[tokio::test]
async fn a_consumer_sees_inserts_modifications_and_removals_with_their_images() -> anyhow::Result<()>
{
    let fx = fixture()?;
    fx.store.put(item("Ada", json!({})), None).await?;
    fx.store.put(item("Ada L.", json!({})), None).await?;
    fx.store
        .delete(&Key::new("user#1", "profile"), None)
        .await?;

    let pump = fx.pump("recorder");
    let outcome = pump.pump_once().await?;
    assert_eq!((outcome.delivered, outcome.failed_at), (3, None));

    let records = fx.seen();
    let names: Vec<&str> = records.iter().map(|r| r.event_name.as_str()).collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    assert_eq!(image_name(&records[0].change.new_image), "Ada");
    assert!(records[0].change.old_image.is_empty());
    assert_eq!(image_name(&records[1].change.old_image), "Ada");
    assert_eq!(image_name(&records[1].change.new_image), "Ada L.");
    assert_eq!(image_name(&records[2].change.old_image), "Ada L.");
    assert!(
        records[2].user_identity.is_none(),
        "a caller's delete is not a TTL deletion"
    );
    let keys = serde_json::to_value(&records[2].change.keys)?;
    assert_eq!(keys, json!({"pk": {"S": "user#1"}, "sk": {"S": "profile"}}));

    let sequence: Vec<u64> = records
        .iter()
        .filter_map(|r| r.change.sequence_number.as_deref()?.parse().ok())
        .collect();
    assert!(sequence.windows(2).all(|w| w[0] < w[1]), "{sequence:?}");
    assert_eq!(outcome.position, sequence[2]);
    assert_eq!(
        pump.pump_once().await?.delivered,
        0,
        "the position was saved past the batch"
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_record_is_delivered_again_with_what_followed_it() -> anyhow::Result<()> {
    let fx = fixture()?;
    fx.store.put(item("first", json!({})), None).await?;
    fx.store
        .put(item("second", json!({"fail": true})), None)
        .await?;
    fx.store.put(item("third", json!({})), None).await?;
    let pump = fx.pump("recorder");

    let first = pump.pump_once().await?;
    let seqs: Vec<u64> = fx
        .seen()
        .iter()
        .filter_map(|r| r.change.sequence_number.as_deref()?.parse().ok())
        .collect();
    assert_eq!(
        first,
        FeedOutcome {
            delivered: 3,
            position: seqs[0],
            failed_at: Some(seqs[1])
        }
    );

    let again = pump.pump_once().await?;
    assert_eq!(again.delivered, 2);
    let names: Vec<Value> = fx
        .seen()
        .iter()
        .map(|r| image_name(&r.change.new_image))
        .collect();
    assert_eq!(names, ["second", "third"]);
    Ok(())
}

#[tokio::test]
async fn consumers_keep_their_own_positions() -> anyhow::Result<()> {
    let fx = fixture()?;
    fx.store.put(item("Ada", json!({})), None).await?;
    assert_eq!(fx.pump("one").pump_once().await?.delivered, 1);
    assert_eq!(fx.pump("two").pump_once().await?.delivered, 1);
    assert_eq!(fx.pump("one").pump_once().await?.delivered, 0);
    Ok(())
}

#[tokio::test]
async fn an_expired_item_leaves_as_a_removal_by_the_service() -> anyhow::Result<()> {
    let fx = fixture()?;
    let expiring = item("Ada", json!({})).expiring_at(fx.clock.now() + TimeDelta::minutes(5));
    fx.store.put(expiring, None).await?;
    fx.clock.advance(TimeDelta::minutes(6));
    assert_eq!(fx.store.purge_expired(10).await?, 1);

    fx.pump("recorder").pump_once().await?;
    let records = fx.seen();
    let removal = serde_json::to_value(records.last().expect("a record of the removal"))?;
    assert_eq!(removal["eventName"], "REMOVE");
    assert_eq!(
        removal["userIdentity"],
        json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    );
    Ok(())
}
