//! The AWS adapters against the emulator on loopback.

mod blob;
mod mail;
mod queue;
mod secrets;
mod store;
