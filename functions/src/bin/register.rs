//! The `register` function: `POST /api/v1/auth/register`.

functions::lambda!(REGISTER);
