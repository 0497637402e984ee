//! The users API (`/api/v1/users`) over real HTTP, each case written once and run on the local
//! system and on the AWS adapters on the emulator.

mod avatar;
mod create;
mod delete;
mod export;
mod get;
mod list;
mod roles;
mod update;
