//! Resources on the emulator, made the way the deployment makes them, one set per test.
//!
//! Every name carries a fresh suffix, so tests sharing the one emulator never see each other's
//! data. The `*_client` functions build SDK clients for the emulator; the others return the
//! adapters under test, ready to use.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use infra::blob::s3::{S3Blobs, S3Forms};
use infra::mail::ses::SesMailer;
use infra::queue::sqs::SqsQueue;
use infra::secrets::secrets_manager::SecretsManager;
use infra::store::dynamo::DynamoStore;
use shared::clock::{Clock, SystemClock};
use shared::store::wire::EXPIRY_INDEX;

use crate::moto::Moto;

/// The domain verified for sending mail, and the sender address on it.
pub const MAIL_DOMAIN: &str = "example.com";
pub const SENDER: &str = "noreply@example.com";

/// A name no other test uses: `prefix` and a random suffix.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub fn dynamodb_client(moto: &Moto) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&moto.sdk_config())
}

pub fn sqs_client(moto: &Moto) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto.sdk_config())
}

/// An S3 client addressing buckets by path, as the emulator needs.
pub fn s3_client(moto: &Moto) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&moto.sdk_config())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn ses_client(moto: &Moto) -> aws_sdk_ses::Client {
    aws_sdk_ses::Client::new(&moto.sdk_config())
}

pub fn secrets_client(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config())
}

/// Creates the single table: `pk`/`sk`, the indexes `gsi1`, `gsi2` and the expiry index (all
/// projecting every attribute), on demand billing, a stream with both images, TTL on `ttl`.
/// Returns its name.
pub async fn table(moto: &Moto) -> anyhow::Result<String> {
    let client = dynamodb_client(moto);
    let name = unique("table");
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let index = |name: &str, pk: &str, sk: &str| -> anyhow::Result<GlobalSecondaryIndex> {
        Ok(GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()?)
    };
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index("gsi1", "gsi1pk", "gsi1sk")?)
        .global_secondary_indexes(index("gsi2", "gsi2pk", "gsi2sk")?)
        .global_secondary_indexes(index(EXPIRY_INDEX, "exp_shard", "ttl")?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()?,
        );
    for name in [
        "pk",
        "sk",
        "gsi1pk",
        "gsi1sk",
        "gsi2pk",
        "gsi2sk",
        "exp_shard",
    ] {
        request = request.attribute_definitions(attribute(name, ScalarAttributeType::S)?);
    }
    request = request.attribute_definitions(attribute("ttl", ScalarAttributeType::N)?);
    request
        .send()
        .await
        .with_context(|| format!("creating table {name}"))?;
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("ttl")
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("enabling TTL on {name}"))?;
    Ok(name)
}

/// A store on a fresh table, reading time from `clock`.
pub async fn store_with_clock(moto: &Moto, clock: Arc<dyn Clock>) -> anyhow::Result<DynamoStore> {
    let table = table(moto).await?;
    Ok(DynamoStore::new(dynamodb_client(moto), table, clock))
}

/// A store on a fresh table, on the system clock.
pub async fn store(moto: &Moto) -> anyhow::Result<DynamoStore> {
    store_with_clock(moto, Arc::new(SystemClock)).await
}

/// A queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueueUrls {
    pub queue: String,
    pub dead_letters: String,
}

/// Creates a queue whose messages go to a fresh dead-letter queue on the receive after
/// `max_receives`, with a default visibility timeout of `visibility`.
pub async fn queues(
    moto: &Moto,
    max_receives: u32,
    visibility: Duration,
) -> anyhow::Result<QueueUrls> {
    let client = sqs_client(moto);
    let name = unique("queue");
    let dead_letters = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .context("creating a dead-letter queue")?
        .queue_url
        .context("a queue without a URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("reading the dead-letter queue's ARN")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("a queue without an ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives.to_string(),
    });
    let queue = client
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility.as_secs().to_string(),
        )
        .send()
        .await
        .context("creating a queue")?
        .queue_url
        .context("a queue without a URL")?;
    Ok(QueueUrls {
        queue,
        dead_letters,
    })
}

/// A fresh queue and its dead-letter queue, as adapters (visibility 30 s by default).
pub async fn queue_pair(moto: &Moto, max_receives: u32) -> anyhow::Result<(SqsQueue, SqsQueue)> {
    let urls = queues(moto, max_receives, Duration::from_secs(30)).await?;
    let client = sqs_client(moto);
    Ok((
        SqsQueue::new(client.clone(), urls.queue),
        SqsQueue::new(client, urls.dead_letters),
    ))
}

/// Creates a bucket; returns its name.
pub async fn bucket(moto: &Moto) -> anyhow::Result<String> {
    let name = unique("bucket");
    s3_client(moto)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .with_context(|| format!("creating bucket {name}"))?;
    Ok(name)
}

/// Lets anyone read the bucket's objects under `prefix`, as the CDN in front of the public
/// avatars does on AWS.
pub async fn public_prefix(moto: &Moto, bucket: &str, prefix: &str) -> anyhow::Result<()> {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*"),
        }],
    });
    s3_client(moto)
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .context("making a prefix public")?;
    Ok(())
}

/// Sends the bucket's ObjectCreated events under `prefix` to a fresh queue, as the template's
/// notification does; returns the queue's URL.
pub async fn upload_notifications(
    moto: &Moto,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<String> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let urls = queues(moto, 5, Duration::from_secs(30)).await?;
    let arn = sqs_client(moto)
        .get_queue_attributes()
        .queue_url(&urls.queue)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("reading the uploads queue's ARN")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("a queue without an ARN")?;
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(
                    FilterRule::builder()
                        .name(FilterRuleName::Prefix)
                        .value(prefix)
                        .build(),
                )
                .build(),
        )
        .build();
    let queue = QueueConfiguration::builder()
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(filter)
        .build()
        .context("a queue notification")?;
    s3_client(moto)
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .context("configuring the bucket's upload notifications")?;
    Ok(urls.queue)
}

/// A blob store on a fresh bucket and the bucket's upload forms, reading time from `clock`.
pub async fn blobs_with_clock(
    moto: &Moto,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(S3Blobs, S3Forms)> {
    let bucket = bucket(moto).await?;
    let forms = S3Forms::new(&moto.sdk_config(), bucket.clone(), clock.clone());
    Ok((S3Blobs::new(s3_client(moto), bucket, clock), forms))
}

/// A blob store on a fresh bucket and the bucket's upload forms, on the system clock.
pub async fn blobs(moto: &Moto) -> anyhow::Result<(S3Blobs, S3Forms)> {
    blobs_with_clock(moto, Arc::new(SystemClock)).await
}

/// Verifies [`MAIL_DOMAIN`] and [`SENDER`] with SES (idempotent).
pub async fn mail_identity(moto: &Moto) -> anyhow::Result<()> {
    let client = ses_client(moto);
    client
        .verify_domain_identity()
        .domain(MAIL_DOMAIN)
        .send()
        .await
        .context("verifying the mail domain")?;
    client
        .verify_email_identity()
        .email_address(SENDER)
        .send()
        .await
        .context("verifying the sender")?;
    Ok(())
}

/// A mailer sending from the verified [`SENDER`].
pub async fn mailer(moto: &Moto) -> anyhow::Result<SesMailer> {
    mail_identity(moto).await?;
    Ok(SesMailer::new(ses_client(moto), SENDER))
}

/// A secrets adapter caching for `cache_ttl` by `clock`. Secret names are global on the
/// emulator: tests name theirs with [`unique`].
pub fn secrets(moto: &Moto, cache_ttl: Duration, clock: Arc<dyn Clock>) -> SecretsManager {
    SecretsManager::new(secrets_client(moto), cache_ttl, clock)
}
