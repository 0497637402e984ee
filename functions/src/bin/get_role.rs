//! The `get_role` function: `GET /api/v1/roles/{id}`.

functions::lambda!(GET_ROLE);
