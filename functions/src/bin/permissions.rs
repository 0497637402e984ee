//! The `permissions` function: `GET /api/v1/auth/permissions`.

functions::lambda!(PERMISSIONS);
