//! The `delete_user` function: `DELETE /api/v1/users/{id}`.

functions::lambda!(DELETE_USER);
