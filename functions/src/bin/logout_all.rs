//! The `logout_all` function: `POST /api/v1/auth/logout-all`.

functions::lambda!(LOGOUT_ALL);
