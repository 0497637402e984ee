//! The `assign_role` function: `POST /api/v1/users/{id}/roles`.

functions::lambda!(ASSIGN_ROLE);
