//! The JSON bodies the auth endpoints answer with.

use serde::Serialize;
use serde_json::{Value, json};
use shared::accounts::login::SignedIn;

/// A new token pair, as login and refresh return it.
pub fn token_pair(signed_in: &SignedIn) -> Value {
    json!({
        "access_token": signed_in.access.token,
        "refresh_token": signed_in.refresh.expose(),
        "token_type": "Bearer",
        "expires_in": signed_in.access.expires_in,
        "user": signed_in.user.public(),
    })
}

/// `{"items": [...], "next_cursor": null}`: a collection that fits one page.
pub fn all<T: Serialize>(items: Vec<T>) -> Value {
    json!({ "items": items, "next_cursor": null })
}
