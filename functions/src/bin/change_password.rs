//! The `change_password` function: `PUT /api/v1/auth/change-password`.

functions::lambda!(CHANGE_PASSWORD);
