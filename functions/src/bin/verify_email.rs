//! The `verify_email` function: `POST /api/v1/auth/verify-email`.

functions::lambda!(VERIFY_EMAIL);
