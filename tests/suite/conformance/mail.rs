//! The mailer's conformance cases: what is sent can be read back.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use shared::mail::{Mail, Mailer};

use super::{eventually, unique};

/// Reads back what a mailer sent: the mailbox locally, the emulator's record of sent mail on AWS.
#[async_trait]
pub trait SentMail: Send + Sync + fmt::Debug {
    /// Every mail sent to `to` so far.
    async fn sent_to(&self, to: &str) -> anyhow::Result<Vec<SentMessage>>;
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

/// A mail to an address no other test writes to.
fn mail(subject: &str) -> Mail {
    Mail {
        to: format!("{}@example.com", unique("reader")),
        subject: subject.into(),
        text: "Hello in text".into(),
        html: "<p>Hello in HTML</p>".into(),
    }
}

/// Sends the mail and waits until the reader sees it.
async fn send_and_read_back(ctx: &MailCtx, mail: &Mail) -> anyhow::Result<SentMessage> {
    let id = ctx.mailer.send(mail).await?;
    let found = eventually("the sent mail", || async {
        Ok(ctx
            .sent
            .sent_to(&mail.to)
            .await?
            .into_iter()
            .find(|m| m.id == id))
    })
    .await?;
    Ok(found)
}

pub async fn a_sent_mail_can_be_read_back(ctx: MailCtx) -> anyhow::Result<()> {
    let mail = mail("Welcome");
    let found = send_and_read_back(&ctx, &mail).await?;
    assert_eq!(
        (
            found.to.as_str(),
            found.subject.as_str(),
            found.html.as_str()
        ),
        (mail.to.as_str(), mail.subject.as_str(), mail.html.as_str())
    );
    Ok(())
}

pub async fn a_mail_carries_its_text_body_beside_the_html(ctx: MailCtx) -> anyhow::Result<()> {
    let mail = mail("Both parts");
    let found = send_and_read_back(&ctx, &mail).await?;
    assert_eq!(
        (found.text.as_str(), found.html.as_str()),
        (mail.text.as_str(), mail.html.as_str())
    );
    Ok(())
}

pub async fn every_mail_sent_is_kept(ctx: MailCtx) -> anyhow::Result<()> {
    let to = format!("{}@example.com", unique("batch"));
    let mut ids = Vec::new();
    for subject in ["one", "two", "three"] {
        let mail = Mail {
            to: to.clone(),
            subject: subject.into(),
            text: "t".into(),
            html: "<p>h</p>".into(),
        };
        ids.push(ctx.mailer.send(&mail).await?);
    }
    let found = eventually("three mails", || async {
        let sent = ctx.sent.sent_to(&to).await?;
        Ok((sent.len() >= 3).then_some(sent))
    })
    .await?;
    let mut subjects: Vec<_> = found.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["one", "three", "two"]);
    let mut found_ids: Vec<_> = found.iter().map(|m| m.id.clone()).collect();
    found_ids.sort();
    ids.sort();
    assert_eq!(found_ids, ids);
    Ok(())
}

/// Instantiates every mail case for one implementation: `mail_suite!(local, factory)` where
/// `factory()` is an async fn returning `anyhow::Result<(MailCtx, guard)>`. An implementation that
/// cannot show a case adds `except { case: "why" }` (see `instantiate!`).
macro_rules! mail_suite {
    ($name:ident, $factory:expr $(, except { $($skip:ident: $reason:literal),* $(,)? })?) => {
        mod $name {
            crate::conformance::instantiate!($factory; except { $($($skip: $reason),*)? };
                a_sent_mail_can_be_read_back,
                a_mail_carries_its_text_body_beside_the_html,
                every_mail_sent_is_kept,
            );
        }
    };
}
mail_suite!(local, crate::conformance::local::mail);
mail_suite!(
    aws,
    crate::conformance::aws::mail,
    except {
        a_mail_carries_its_text_body_beside_the_html: "moto's SES keeps only the HTML body of a mail \
        sent with both, so the text part cannot be read back",
    }
);
