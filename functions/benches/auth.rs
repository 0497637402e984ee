//! Login time against one argon2id verification, and store round trips per auth endpoint.

fn main() {}
