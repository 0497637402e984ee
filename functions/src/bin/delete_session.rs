//! The `delete_session` function: `DELETE /api/v1/auth/sessions/{id}`.

functions::lambda!(DELETE_SESSION);
