//! The `upload_avatar` function: `POST /api/v1/users/{id}/avatar`.

functions::lambda!(UPLOAD_AVATAR);
