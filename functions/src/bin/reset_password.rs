//! The `reset_password` function: `POST /api/v1/auth/reset-password`.

functions::lambda!(RESET_PASSWORD);
