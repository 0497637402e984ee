//! The `revoke_role` function: `DELETE /api/v1/users/{id}/roles/{role_id}`.

functions::lambda!(REVOKE_ROLE);
