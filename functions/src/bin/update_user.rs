//! The `update_user` function: `PATCH /api/v1/users/{id}`.

functions::lambda!(UPDATE_USER);
