//! Access tokens: short-lived EdDSA JWTs, issued and verified against our own key set.
