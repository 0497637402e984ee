//! The `create_permission` function: `POST /api/v1/permissions`.

functions::lambda!(CREATE_PERMISSION);
