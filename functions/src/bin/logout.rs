//! The `logout` function: `POST /api/v1/auth/logout`.

functions::lambda!(LOGOUT);
