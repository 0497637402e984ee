//! The `confirm_reset` function: `POST /api/v1/auth/confirm-reset`.

functions::lambda!(CONFIRM_RESET);
