//! The `get_user` function: `GET /api/v1/users/{id}`.

functions::lambda!(GET_USER);
