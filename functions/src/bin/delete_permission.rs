//! The `delete_permission` function: `DELETE /api/v1/permissions/{id}`.

functions::lambda!(DELETE_PERMISSION);
