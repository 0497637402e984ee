//! The `get_permission` function: `GET /api/v1/permissions/{id}`.

functions::lambda!(GET_PERMISSION);
