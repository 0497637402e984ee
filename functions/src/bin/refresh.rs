//! The `refresh` function: `POST /api/v1/auth/refresh`.

functions::lambda!(REFRESH);
