//! The `list_users` function: `GET /api/v1/users`.

functions::lambda!(LIST_USERS);
