//! The mails the system sends, rendered as text and HTML from small templates.
//!
//! Links point at the front end (`APP_URL`): `<APP_URL>/verify-email?token=…` and
//! `<APP_URL>/reset-password?token=…`. A rendered mail holds a one-time token, so neither it nor
//! the token is ever logged.

use serde::{Deserialize, Serialize};

use crate::mail::Mail;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Verification,
    Reset,
    Welcome,
    PasswordChanged,
}

/// Who a mail goes to, and what its template needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRequest {
    pub template: Template,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The one-time token of a verification or reset link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the {0:?} mail needs a token")]
    MissingToken(Template),
}

/// Renders a mail. `app_url` is the front end's base URL.
pub fn render(request: &EmailRequest, app_url: &str) -> Result<Mail, RenderError> {
    let greeting = match request
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    };
    let base = app_url.trim_end_matches('/');
    let link = |path: &str| -> Result<String, RenderError> {
        let token = request
            .token
            .as_deref()
            .ok_or(RenderError::MissingToken(request.template))?;
        Ok(format!("{base}/{path}?token={}", url_encode(token)))
    };
    let (subject, lines, action) = match request.template {
        Template::Verification => (
            "Verify your email address",
            vec!["Please confirm this is your email address. The link is valid for 24 hours."],
            Some(("Verify email", link("verify-email")?)),
        ),
        Template::Reset => (
            "Reset your password",
            vec![
                "Someone asked to reset the password of your account. The link is valid for one hour.",
                "If it was not you, ignore this mail: your password stays as it is.",
            ],
            Some(("Reset password", link("reset-password")?)),
        ),
        Template::Welcome => (
            "Welcome",
            vec!["Your account is ready. Welcome aboard."],
            None,
        ),
        Template::PasswordChanged => (
            "Your password was changed",
            vec![
                "The password of your account was just changed.",
                "If it was not you, reset your password at once.",
            ],
            None,
        ),
    };
    let mut text = format!("{greeting}\n\n");
    let mut html = format!("<p>{}</p>\n", escape_html(&greeting));
    for line in &lines {
        text.push_str(&format!("{line}\n\n"));
        html.push_str(&format!("<p>{}</p>\n", escape_html(line)));
    }
    if let Some((label, url)) = action {
        text.push_str(&format!("{label}: {url}\n"));
        html.push_str(&format!(
            "<p><a href=\"{0}\">{1}</a></p>\n",
            escape_html(&url),
            escape_html(label)
        ));
    }
    Ok(Mail {
        to: request.to.clone(),
        subject: subject.to_owned(),
        text,
        html,
    })
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    s.chars()
        .fold(String::with_capacity(s.len()), |mut out, c| {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
            out
        })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    s.bytes()
        .fold(String::with_capacity(s.len()), |mut out, b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(template: Template, token: Option<&str>) -> EmailRequest {
        EmailRequest {
            template,
            to: "ada@example.com".into(),
            name: Some("Ada <3".into()),
            token: token.map(Into::into),
        }
    }

    #[test]
    fn a_verification_mail_links_to_the_front_end_with_its_token() {
        let mail = render(
            &request(Template::Verification, Some("abc_-1")),
            "https://app.example.com/",
        )
        .ok();
        let link = "https://app.example.com/verify-email?token=abc_-1";
        assert!(
            mail.as_ref()
                .is_some_and(|m| m.text.contains(link) && m.html.contains(link)),
            "{mail:?}"
        );
        assert_eq!(mail.map(|m| m.to), Some("ada@example.com".into()));
    }

    #[test]
    fn a_reset_mail_links_to_the_reset_page() {
        let mail = render(
            &request(Template::Reset, Some("t+/=")),
            "http://localhost:3000",
        )
        .ok();
        assert!(mail.is_some_and(|m| {
            m.text
                .contains("http://localhost:3000/reset-password?token=t%2B%2F%3D")
        }));
    }

    #[test]
    fn link_mails_need_a_token_and_the_others_do_not() {
        assert_eq!(
            render(&request(Template::Reset, None), "http://x"),
            Err(RenderError::MissingToken(Template::Reset))
        );
        assert!(render(&request(Template::Welcome, None), "http://x").is_ok());
        assert!(render(&request(Template::PasswordChanged, None), "http://x").is_ok());
    }

    #[test]
    fn names_are_escaped_in_html() {
        let mail = render(&request(Template::Welcome, None), "http://x").ok();
        assert!(
            mail.as_ref()
                .is_some_and(|m| m.html.contains("Hello Ada &lt;3,")),
            "{mail:?}"
        );
        assert!(mail.is_some_and(|m| m.text.contains("Hello Ada <3,")));
    }

    #[test]
    fn templates_are_named_in_snake_case() {
        let parsed: Result<EmailRequest, _> =
            serde_json::from_str(r#"{"template": "password_changed", "to": "a@example.com"}"#);
        assert_eq!(
            parsed.ok().map(|r| r.template),
            Some(Template::PasswordChanged)
        );
    }
}
