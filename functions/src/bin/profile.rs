//! The `profile` function: `GET /api/v1/auth/profile`.

functions::lambda!(PROFILE);
