//! The `list_permissions` function: `GET /api/v1/permissions`.

functions::lambda!(LIST_PERMISSIONS);
