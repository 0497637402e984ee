//! What is particular to the AWS adapters, against the emulator on loopback; the port contracts
//! they share with the local adapters are the conformance suites.

mod blob;
mod mail;
mod queue;
mod secrets;
mod store;
