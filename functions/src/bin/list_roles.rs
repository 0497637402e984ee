//! The `list_roles` function: `GET /api/v1/roles`.

functions::lambda!(LIST_ROLES);
