//! The local mailer: every mail is a JSON file in a directory, for a page and the tests to read.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::clock::Clock;
use shared::mail::{Mail, MailError, Mailer};
use uuid::Uuid;

/// A mail as the mailbox keeps it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Mailbox {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
}

impl Mailbox {
    pub fn new(dir: PathBuf, clock: Arc<dyn Clock>) -> Self {
        Self { dir, clock }
    }

    /// Every mail sent, newest first.
    pub async fn list(&self) -> anyhow::Result<Vec<StoredMail>> {
        let dir = self.dir.clone();
        let mut mails = tokio::task::spawn_blocking(move || read_all(&dir))
            .await
            .context("reading the mailbox")??;
        mails.sort_by(|a, b| (b.sent_at, &b.id).cmp(&(a.sent_at, &a.id)));
        Ok(mails)
    }
}

fn read_all(dir: &Path) -> anyhow::Result<Vec<StoredMail>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("listing {}", dir.display()))),
    };
    let mut mails = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let json = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        mails.push(
            serde_json::from_slice(&json).with_context(|| format!("parsing {}", path.display()))?,
        );
    }
    Ok(mails)
}

/// Refuses what SES would refuse for good: no address, or header-breaking characters.
fn check(mail: &Mail) -> Result<(), MailError> {
    let to = mail.to.trim();
    let address_ok = to.len() == mail.to.len()
        && to
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !to.chars().any(|c| c.is_whitespace() || c.is_control());
    if !address_ok {
        return Err(MailError::Rejected(format!(
            "invalid recipient {:?}",
            mail.to
        )));
    }
    if mail.subject.chars().any(char::is_control) {
        return Err(MailError::Rejected(
            "the subject holds control characters".into(),
        ));
    }
    Ok(())
}

impl Mailbox {
    /// Stores the mail as the file `name` (by default one of its own).
    async fn store(&self, mail: &Mail, name: Option<String>) -> Result<String, MailError> {
        check(mail)?;
        let sent_at = self.clock.now();
        let id = Uuid::now_v7().to_string();
        let stored = StoredMail {
            id: id.clone(),
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
            sent_at,
        };
        let json = serde_json::to_vec_pretty(&stored).context("encoding a mail")?;
        let dir = self.dir.clone();
        let name =
            name.unwrap_or_else(|| format!("{}-{id}.json", sent_at.format("%Y%m%dT%H%M%S%.3fZ")));
        tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &json))
            .await
            .context("writing a mail")??;
        tracing::info!(mail_id = %id, "mail stored in the local mailbox");
        Ok(id)
    }
}

/// The file of the mail sent under `key`: named after the key, so a second send finds it.
fn keyed_name(key: &str) -> String {
    format!("key-{}.json", hex::encode(key))
}

/// The mail stored as `name`, if there is one.
fn read_one(dir: &Path, name: &str) -> anyhow::Result<Option<StoredMail>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(json) => Ok(Some(
            serde_json::from_slice(&json).with_context(|| format!("parsing {}", path.display()))?,
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    }
}

#[async_trait]
impl Mailer for Mailbox {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        self.store(mail, None).await
    }

    async fn send_once(&self, key: &str, mail: &Mail) -> Result<String, MailError> {
        let (dir, name) = (self.dir.clone(), keyed_name(key));
        let lookup = name.clone();
        let sent = tokio::task::spawn_blocking(move || read_one(&dir, &lookup))
            .await
            .context("reading the mailbox")??;
        match sent {
            Some(sent) => {
                tracing::info!(mail_id = %sent.id, "mail sent under its key already; not sent again");
                Ok(sent.id)
            }
            // Two sends under one key at once both write it; the rename keeps one of them.
            None => self.store(mail, Some(name)).await,
        }
    }
}

fn write_atomically(dir: &Path, name: &str, contents: &[u8]) -> anyhow::Result<()> {
    crate::private::dir(dir)?;
    // Readers skip anything but *.json, so they never see a half-written mail.
    let temp = dir.join(format!(".{name}.tmp"));
    let mut file =
        crate::private::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, dir.join(name)).with_context(|| format!("publishing {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use shared::clock::ManualClock;

    fn mail(to: &str, subject: &str) -> Mail {
        Mail {
            to: to.into(),
            subject: subject.into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
        }
    }

    #[tokio::test]
    async fn mails_are_listed_newest_first_and_survive_a_new_mailbox() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let clock = Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        ));
        let mailbox = Mailbox::new(dir.path().join("mail"), clock.clone());
        assert!(mailbox.list().await?.is_empty());
        let first = mailbox.send(&mail("a@example.com", "first")).await?;
        clock.advance(TimeDelta::seconds(1));
        let second = mailbox.send(&mail("b@example.com", "second")).await?;

        let listed = Mailbox::new(dir.path().join("mail"), clock).list().await?;
        assert_eq!(
            listed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            [second.as_str(), first.as_str()]
        );
        assert_eq!(
            (listed[1].to.as_str(), listed[1].html.as_str()),
            ("a@example.com", "<p>html</p>")
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_mail_sent_again_under_its_key_is_kept_once() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mailbox = Mailbox::new(dir.path().to_owned(), Arc::new(shared::clock::SystemClock));
        let first = mailbox
            .send_once("job-1", &mail("a@example.com", "first"))
            .await?;
        let again = mailbox
            .send_once("job-1", &mail("a@example.com", "again"))
            .await?;
        let other = mailbox
            .send_once("job-2", &mail("a@example.com", "other"))
            .await?;

        assert_eq!(again, first);
        let listed = mailbox.list().await?;
        let mut subjects: Vec<&str> = listed.iter().map(|m| m.subject.as_str()).collect();
        subjects.sort_unstable();
        assert_eq!(subjects, ["first", "other"]);
        assert_ne!(other, first);
        Ok(())
    }

    #[tokio::test]
    async fn a_mail_to_a_malformed_address_is_rejected_for_good() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mailbox = Mailbox::new(dir.path().to_owned(), Arc::new(shared::clock::SystemClock));
        for to in [
            "",
            "nobody",
            "a@example.com\r\nBcc: x@example.com",
            " a@example.com",
        ] {
            assert!(
                matches!(
                    mailbox.send(&mail(to, "hi")).await,
                    Err(MailError::Rejected(_))
                ),
                "{to:?}"
            );
        }
        assert!(matches!(
            mailbox.send(&mail("a@example.com", "a\nb")).await,
            Err(MailError::Rejected(_))
        ));
        assert!(mailbox.list().await?.is_empty());
        Ok(())
    }
}
