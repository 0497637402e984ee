//! The system's job types, run through the whole pipeline.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use functions::jobs::send_email::SendEmailPayload;
use functions::maintenance::purge_expired::PurgeRequest;
use functions::maintenance::redrive_stuck_jobs::{RedriveReport, RedriveStuckJobs};
use infra::compose::Backend as _;
use serde_json::{Value, json};
use shared::accounts::register::NewAccount;
use shared::auth::password::Password;
use shared::clock::{OsRandom, Random};
use shared::emails::{EmailRequest, Template};
use shared::jobs::repo::insert_write;
use shared::jobs::{Job, JobStatus, NewJob};
use shared::users::{Email, Name};

use super::{APP_URL, Flaky, Pipeline};

#[tokio::test]
async fn send_email_renders_the_mail_into_the_local_mailbox_with_its_link() -> anyhow::Result<()> {
    let system = Pipeline::start(|r| r).await?;
    let user = system
        .backend
        .accounts()?
        .create(NewAccount {
            email: Email::parse("ada@example.com")?,
            name: Name::parse("Ada")?,
            phone: None,
            password: Password::parse("correct horse battery staple".into())?,
            verified: false,
            extra_roles: Vec::new(),
        })
        .await?;
    let payload = SendEmailPayload::ToUser {
        template: Template::Verification,
        user_id: user.id,
    };
    let job = system.enqueue(NewJob::of(&payload)?).await?;

    let done = system.run_until(job.id, |j| j.status.is_final()).await?;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.last_error);
    assert_eq!(
        done.payload,
        Value::Null,
        "a sent mail's payload is not kept"
    );

    let mails = system.local()?.mailbox().list().await?;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "ada@example.com");
    let link = format!("{APP_URL}/verify-email?token=");
    let token = mails[0]
        .text
        .split(&link)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no verification link in {:?}", mails[0]));
    assert_eq!(token.len(), 43, "{:?}", mails[0]);
    assert!(mails[0].html.contains(&format!("{link}{token}")));
    // The link works: the token was stored (hashed) when the mail was sent.
    let verified = system.backend.accounts()?.verify_email(token).await?;
    assert!(verified.email_verified);
    Ok(())
}

#[tokio::test]
async fn a_mail_that_cannot_render_is_dead_at_once() -> anyhow::Result<()> {
    let system = Pipeline::start(|r| r).await?;
    // A reset mail without its link.
    let payload = SendEmailPayload::ToAddress(EmailRequest {
        template: Template::Reset,
        to: "ada@example.com".into(),
        name: None,
        token: None,
    });
    let job = system.enqueue(NewJob::of(&payload)?).await?;
    let dead = system.run_until(job.id, |j| j.status.is_final()).await?;
    assert_eq!((dead.status, dead.attempts), (JobStatus::Dead, 1));
    assert!(system.local()?.mailbox().list().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn redrive_stuck_jobs_queues_a_stuck_running_job_again() -> anyhow::Result<()> {
    let flaky = Flaky::default();
    let system = Pipeline::start(|r| r.with(flaky.clone())).await?;
    let long_ago = Utc::now() - TimeDelta::minutes(10);
    let stuck = Job {
        status: JobStatus::Running,
        attempts: 1,
        started_at: Some(long_ago),
        ..Job::new(
            OsRandom.id(),
            "flaky",
            json!({"key": "stuck", "fail_first": 0}),
            3,
            long_ago,
            long_ago,
        )
    };
    let recent = Job {
        id: OsRandom.id(),
        updated_at: Utc::now(),
        ..stuck.clone()
    };
    system
        .store
        .transact(vec![insert_write(&stuck)?, insert_write(&recent)?])
        .await?;

    let redrive = RedriveStuckJobs::new(
        system.store.clone(),
        system.backend.clock(),
        Arc::new(OsRandom),
    )
    .with_stuck_after(Duration::from_secs(60));
    assert_eq!(
        redrive.run().await?,
        RedriveReport {
            found: 1,
            redriven: 1
        }
    );
    assert_eq!(system.job(stuck.id).await?.status, JobStatus::Queued);
    assert_eq!(
        system.job(recent.id).await?.status,
        JobStatus::Running,
        "a job running briefly is left alone"
    );

    let done = system.run_until(stuck.id, |j| j.status.is_final()).await?;
    assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(flaky.calls("stuck"), 1);
    assert_eq!(
        redrive.run().await?,
        RedriveReport {
            found: 0,
            redriven: 0
        }
    );
    Ok(())
}

#[tokio::test]
async fn purge_expired_runs_as_a_job() -> anyhow::Result<()> {
    let system = Pipeline::start(|r| r).await?;
    let job = system.enqueue(NewJob::of(&PurgeRequest {})?).await?;
    let done = system.run_until(job.id, |j| j.status.is_final()).await?;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.last_error);
    assert_eq!(
        done.result.as_ref().and_then(|r| r.get("finished")),
        Some(&json!(true))
    );
    Ok(())
}

#[tokio::test]
async fn cleanup_unverified_users_removes_only_old_unverified_accounts() -> anyhow::Result<()> {
    use functions::maintenance::cleanup_unverified_users::{CleanupReport, CleanupUnverifiedUsers};
    use shared::accounts::Accounts;
    use shared::clock::ManualClock;
    use shared::users::UserRepo;

    let system = Pipeline::start(|r| r).await?;
    let store = system.store.clone();
    let now = Utc::now();
    let back_then = Arc::new(ManualClock::new(now - TimeDelta::days(31)));
    let then = Accounts::new(store.clone(), back_then, Arc::new(OsRandom));
    let today = system.backend.accounts()?;
    let account = |email: &str, verified| -> anyhow::Result<NewAccount> {
        Ok(NewAccount {
            email: Email::parse(email)?,
            name: Name::parse("Someone")?,
            phone: None,
            password: Password::parse("correct horse battery staple".into())?,
            verified,
            extra_roles: Vec::new(),
        })
    };
    let abandoned = then.create(account("gone@example.com", false)?).await?;
    let kept_verified = then.create(account("kept@example.com", true)?).await?;
    let fresh = today.create(account("fresh@example.com", false)?).await?;

    let cleanup = CleanupUnverifiedUsers::new(today.clone(), Duration::from_secs(30 * 24 * 3600));
    let report = cleanup.run().await?;
    assert_eq!(
        report,
        CleanupReport {
            found: 1,
            deleted: 1
        }
    );

    let users = UserRepo::new(store);
    assert_eq!(users.get(abandoned.id).await?, None);
    assert!(users.get(kept_verified.id).await?.is_some());
    assert!(users.get(fresh.id).await?.is_some());
    // The address is free again.
    today.create(account("gone@example.com", false)?).await?;
    assert_eq!(cleanup.run().await?, CleanupReport::default());
    Ok(())
}
