//! The `health` function: `GET /health`.

functions::lambda!(HEALTH);
