//! The `login` function: `POST /api/v1/auth/login`.

functions::lambda!(LOGIN);
