//! Users: accounts, their profile fields, and how they are stored.

pub mod email;
pub mod events;
pub mod listing;
pub mod profile;
pub mod repo;
pub mod search;
pub mod user;

pub use email::Email;
pub use profile::{Name, Phone};
pub use repo::UserRepo;
pub use user::{PasswordHash, PublicUser, User, UserStatus};
