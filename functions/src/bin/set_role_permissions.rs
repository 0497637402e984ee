//! The `set_role_permissions` function: `PUT /api/v1/roles/{id}/permissions`.

functions::lambda!(SET_ROLE_PERMISSIONS);
