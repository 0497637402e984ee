//! The SES mailer: its sender identity.

use serde_json::Value;
use shared::mail::{Mail, MailError, Mailer};
use tests::moto::moto;
use tests::provision;

fn mail(to: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Verify your email".into(),
        text: "Open https://example.com/verify?t=abc".into(),
        html: "<p>Open <a href=\"https://example.com/verify?t=abc\">this link</a></p>".into(),
    }
}

#[tokio::test]
async fn mail_goes_out_from_the_configured_sender() -> anyhow::Result<()> {
    let moto = moto().await?;
    let mailer = provision::mailer(moto).await?;
    let to = format!("{}@example.org", provision::unique("user"));
    let id = mailer.send(&mail(&to)).await?;

    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto.endpoint()))
        .await?
        .json()
        .await?;
    let sent = data["ses"]["Message"]
        .as_array()
        .expect("the emulator lists the mail it sent");
    let ours = sent.iter().find(|m| m["id"] == id.as_str());
    let Some(ours) = ours else {
        panic!("message {id} not among {sent:?}")
    };
    assert_eq!(ours["source"], provision::SENDER);
    Ok(())
}

#[tokio::test]
async fn mail_from_an_unverified_sender_is_refused_for_now() -> anyhow::Result<()> {
    let moto = moto().await?;
    let mailer =
        infra::mail::ses::SesMailer::new(provision::ses_client(moto), "someone@unverified.invalid");
    let result = mailer.send(&mail("user@example.org")).await;
    assert!(matches!(result, Err(MailError::Refused(_))), "{result:?}");
    Ok(())
}
