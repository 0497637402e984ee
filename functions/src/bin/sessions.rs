//! The `sessions` function: `GET /api/v1/auth/sessions`.

functions::lambda!(SESSIONS);
