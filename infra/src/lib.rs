//! Adapters behind the ports of [`shared`], their configuration, and the composition root.
//!
//! Each port has two real implementations, side by side in a folder named after the port:
//!
//! | port | AWS | local |
//! |---|---|---|
//! | item store | [`store::dynamo`] (DynamoDB) | [`store::sqlite`] (SQLite, WAL, change feed) |
//! | queue | [`queue::sqs`] (SQS, redrive to a dead-letter queue) | [`queue::local`] (SQLite, same database as the store) |
//! | blob store | [`blob::s3`] (S3, presigned GET) | [`blob::local`] (a directory, HMAC-signed URLs) |
//! | upload forms | [`blob::s3::S3Forms`] (S3's presigned POST, signed without the SDK) | [`blob::local`] (HMAC-signed forms its server checks) |
//! | mailer | [`mail::ses`] (SES) | [`mail::mailbox`] (JSON files in a directory) |
//! | secrets | [`secrets::secrets_manager`] (Secrets Manager, cached) | [`secrets::local`] (owner-only files) |
//!
//! Each side sits behind a cargo feature, `aws` or `local`, so a Lambda function compiles
//! and links only the AWS side; the local system and the tools enable both.
//!
//! [`compose`] is the composition root that picks one side for every port, from the
//! configuration in [`config`]. [`local_db`] is the one SQLite database the local store and
//! the local queues live in.

pub mod blob;
pub mod compose;
pub mod config;
#[cfg(feature = "local")]
pub mod local_db;
pub mod mail;
#[cfg(feature = "local")]
mod private;
pub mod queue;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod secrets;
pub mod store;
