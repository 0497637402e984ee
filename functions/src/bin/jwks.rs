//! The `jwks` function: `GET /.well-known/jwks.json`.

functions::lambda!(JWKS);
