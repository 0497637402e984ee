//! The `delete_role` function: `DELETE /api/v1/roles/{id}`.

functions::lambda!(DELETE_ROLE);
