//! Adapters behind the ports of [`shared`], their configuration, and the composition root.
//!
//! Each port has two real implementations, side by side in a folder named after the port:
//!
//! | port | AWS | local |
//! |---|---|---|
//! | item store | [`store::dynamo`] (DynamoDB) | [`store::sqlite`] (SQLite, WAL, change feed) |
//! | queue | [`queue::sqs`] (SQS, redrive to a dead-letter queue) | |
//! | blob store | [`blob::s3`] (S3, presigned POST and GET) | |
//! | mailer | [`mail::ses`] (SES) | |
//! | secrets | [`secrets::secrets_manager`] (Secrets Manager, cached) | |
//!
//! [`store::codec`] is the wire form of an item both stores and the change feed share.

pub mod blob;
pub mod mail;
pub mod queue;
pub mod secrets;
pub mod store;
