//! The `user_roles` function: `GET /api/v1/users/{id}/roles`.

functions::lambda!(USER_ROLES);
