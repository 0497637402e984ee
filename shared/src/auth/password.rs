//! Passwords: the rules a new password must meet, and argon2id hashing.
