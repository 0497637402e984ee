//! The `update_permission` function: `PATCH /api/v1/permissions/{id}`.

functions::lambda!(UPDATE_PERMISSION);
