//! Adapters behind the ports of [`shared`], their configuration, and the composition root.
//!
//! Each port has two real implementations, side by side in a folder named after the port:
//!
//! | port | AWS | local |
//! |---|---|---|
//! | item store | [`store::dynamo`] (DynamoDB) | [`store::sqlite`] (SQLite, WAL, change feed) |
//!
//! [`store::codec`] is the wire form of an item both stores and the change feed share.

pub mod store;
