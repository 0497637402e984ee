//! The identity flows end to end over real HTTP against the local system.

mod flows;
mod guard;
mod races;

use anyhow::Context;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tests::app::TestApp;

use crate::conformance::eventually;

pub const PASSWORD: &str = "correct horse battery staple";

/// Typed calls of the auth endpoints.
pub trait AuthCalls {
    fn app(&self) -> &TestApp;

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Response> {
        let app = self.app();
        let mut request = app.client.request(method, app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .with_context(|| format!("calling {path}"))
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Response> {
        self.call(
            Method::POST,
            &format!("/api/v1/auth{path}"),
            None,
            Some(body),
        )
        .await
    }

    async fn register(&self, email: &str) -> anyhow::Result<Response> {
        self.post(
            "/register",
            json!({"email": email, "name": "Ada", "password": PASSWORD}),
        )
        .await
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<Response> {
        self.post("/login", json!({"email": email, "password": password}))
            .await
    }

    /// The token of the newest mail to `to` whose link goes to `path`, once it arrives.
    async fn mailed_token(&self, to: &str, path: &str, after: usize) -> anyhow::Result<String> {
        let app = self.app();
        let needle = format!("/{path}?token=");
        eventually(&format!("a {path} mail to {to}"), || async {
            let mails = app.mailbox().await?;
            let tokens: Vec<String> = mails
                .iter()
                .filter(|m| m["to"] == to)
                .filter_map(|m| m["text"].as_str())
                .filter_map(|text| text.split(&needle).nth(1))
                .filter_map(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
                .collect();
            // Newest first: more than `after` such mails means a new one came.
            Ok((tokens.len() > after).then(|| tokens[0].clone()))
        })
        .await
    }

    /// Registers, verifies and logs in; returns the login body.
    async fn signed_up(&self, email: &str) -> anyhow::Result<Value> {
        assert_eq!(self.register(email).await?.status(), StatusCode::CREATED);
        let token = self.mailed_token(email, "verify-email", 0).await?;
        let verified = self.post("/verify-email", json!({"token": token})).await?;
        assert_eq!(verified.status(), StatusCode::OK);
        let login = self.login(email, PASSWORD).await?;
        assert_eq!(login.status(), StatusCode::OK);
        Ok(login.json().await?)
    }
}

impl AuthCalls for TestApp {
    fn app(&self) -> &TestApp {
        self
    }
}

/// A problem body without its request id, to compare two answers.
pub fn without_request_id(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove("request_id");
    }
    body
}

pub fn bearer(login: &Value) -> String {
    login["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn refresh_token(login: &Value) -> String {
    login["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
