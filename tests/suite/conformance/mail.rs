//! The mailer's conformance cases: what is sent can be read back.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use shared::mail::{Mail, Mailer};

use super::{eventually, unique};

/// Reads back what a mailer sent: the mailbox locally, the emulator's record of sent mail on AWS.
#[async_trait]
pub trait SentMail: Send + Sync + fmt::Debug {
    async fn sent(&self) -> anyhow::Result<Vec<SentMessage>>;
}

/// One sent mail as the reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The id the mailer returned.
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct MailCtx {
    pub mailer: Arc<dyn Mailer>,
    pub sent: Arc<dyn SentMail>,
}

pub async fn a_sent_mail_can_be_read_back(ctx: MailCtx) -> anyhow::Result<()> {
    let mail = Mail {
        to: "reader@example.com".into(),
        subject: unique("Welcome"),
        text: "Hello in text".into(),
        html: "<p>Hello in HTML</p>".into(),
    };
    let id = ctx.mailer.send(&mail).await?;
    let found = eventually("the sent mail", || async {
        Ok(ctx
            .sent
            .sent()
            .await?
            .into_iter()
            .find(|m| m.subject == mail.subject))
    })
    .await?;
    assert_eq!(
        (found.id.as_str(), found.to.as_str()),
        (id.as_str(), mail.to.as_str())
    );
    // Some SES emulators keep one body part only; each part kept must be the one sent.
    assert!(
        found.text == mail.text || found.html == mail.html,
        "{found:?}"
    );
    assert!(
        found.text.is_empty() || found.text == mail.text,
        "{found:?}"
    );
    assert!(
        found.html.is_empty() || found.html == mail.html,
        "{found:?}"
    );
    Ok(())
}

pub async fn every_mail_sent_is_kept(ctx: MailCtx) -> anyhow::Result<()> {
    let subject = unique("Batch");
    let mut ids = Vec::new();
    for to in ["one@example.com", "two@example.com", "three@example.com"] {
        let mail = Mail {
            to: to.into(),
            subject: subject.clone(),
            text: "t".into(),
            html: "<p>h</p>".into(),
        };
        ids.push(ctx.mailer.send(&mail).await?);
    }
    let mut found = eventually("three mails", || async {
        let sent: Vec<_> = ctx
            .sent
            .sent()
            .await?
            .into_iter()
            .filter(|m| m.subject == subject)
            .collect();
        Ok((sent.len() >= 3).then_some(sent))
    })
    .await?;
    found.sort_by(|a, b| a.to.cmp(&b.to));
    let to: Vec<_> = found.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(
        to,
        ["one@example.com", "three@example.com", "two@example.com"]
    );
    let mut found_ids: Vec<_> = found.into_iter().map(|m| m.id).collect();
    found_ids.sort();
    ids.sort();
    assert_eq!(found_ids, ids);
    Ok(())
}

/// Instantiates every mail case for one implementation: `mail_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(MailCtx, guard)>`.
macro_rules! mail_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            crate::conformance::instantiate!($factory;
                a_sent_mail_can_be_read_back,
                every_mail_sent_is_kept,
            );
        }
    };
}
mail_suite!(local, crate::conformance::local::mail);
