//! The `create_role` function: `POST /api/v1/roles`.

functions::lambda!(CREATE_ROLE);
