//! The `avatar_uploaded` function: the upload notifications queue.

functions::lambda!(AVATAR_UPLOADED);
