//! The `create_user` function: `POST /api/v1/users`.

functions::lambda!(CREATE_USER);
