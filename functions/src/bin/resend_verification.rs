//! The `resend_verification` function: `POST /api/v1/auth/resend-verification`.

functions::lambda!(RESEND_VERIFICATION);
