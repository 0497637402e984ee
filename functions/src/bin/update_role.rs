//! The `update_role` function: `PATCH /api/v1/roles/{id}`.

functions::lambda!(UPDATE_ROLE);
