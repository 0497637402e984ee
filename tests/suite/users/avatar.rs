//! Avatars end to end, on both systems: a presigned form for a quarantine key, the upload's
//! ObjectCreated notification, the `process_avatar` job, and the user's new `avatar_url`.
//! The images are made here: a real PNG and JPEG are accepted, text named `.png` is not.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::auth::{AuthSystem, on_both_systems};
use crate::conformance::eventually;
use crate::rbac::send;

fn image(format: ImageFormat) -> Vec<u8> {
    let pixels = RgbImage::from_fn(320, 200, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut bytes = Vec::new();
    pixels
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// Asks for a form and posts `file` with it, as a browser would; the upload's status.
async fn upload(
    app: &impl AuthSystem,
    token: &str,
    user: &str,
    content_type: &str,
    file: Vec<u8>,
) -> anyhow::Result<StatusCode> {
    let path = format!("/api/v1/users/{user}/avatar");
    let body = json!({"content_type": content_type});
    let (status, form) = send(app, Method::POST, &path, token, Some(body)).await?;
    assert_eq!(status, StatusCode::OK, "{form}");
    let key = form["fields"]["key"].as_str().unwrap();
    assert!(
        key.starts_with(&format!("uploads/avatars/{user}/")),
        "{key}"
    );
    let mut multipart = reqwest::multipart::Form::new();
    for (name, value) in form["fields"].as_object().unwrap() {
        multipart = multipart.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    let part = reqwest::multipart::Part::bytes(file)
        .file_name("avatar.png")
        .mime_str(content_type)?;
    let response = reqwest::Client::new()
        .post(form["url"].as_str().unwrap())
        .multipart(multipart.part("file", part))
        .send()
        .await?;
    Ok(response.status())
}

async fn avatar_url(app: &impl AuthSystem, token: &str, user: &str) -> anyhow::Result<Value> {
    let (_, body) = send(
        app,
        Method::GET,
        &format!("/api/v1/users/{user}"),
        token,
        None,
    )
    .await?;
    Ok(body["user"]["avatar_url"].clone())
}

/// The avatar URL once it is no longer `before`.
async fn changed_from(
    app: &impl AuthSystem,
    token: &str,
    user: &str,
    before: &Value,
) -> anyhow::Result<String> {
    eventually("the avatar is set", || async {
        app.step_background().await?;
        let now = avatar_url(app, token, user).await?;
        Ok((now != *before).then(|| now.as_str().unwrap().to_owned()))
    })
    .await
}

async fn an_uploaded_image_becomes_a_square_png_avatar_and_replaces_the_last(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let id = app
        .create_user("ada@example.com", vec![])
        .await?
        .to_string();
    let token = app.token_of("ada@example.com").await?;
    assert_eq!(avatar_url(app, &token, &id).await?, Value::Null);

    let status = upload(app, &token, &id, "image/png", image(ImageFormat::Png)).await?;
    assert!(status.is_success(), "{status}");
    let first = changed_from(app, &token, &id, &Value::Null).await?;
    let served = reqwest::get(&first)
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let avatar = image::load_from_memory(&served)?;
    assert_eq!((avatar.width(), avatar.height()), (256, 256));
    assert_eq!(image::guess_format(&served)?, ImageFormat::Png);

    let status = upload(app, &token, &id, "image/jpeg", image(ImageFormat::Jpeg)).await?;
    assert!(status.is_success(), "{status}");
    let second = changed_from(app, &token, &id, &json!(first)).await?;
    assert_ne!(first, second);
    let old = reqwest::get(&first).await?.status();
    assert!(
        old.is_client_error(),
        "the previous avatar is still served: {old}"
    );
    Ok(())
}

async fn text_named_png_is_refused_and_changes_nothing(
    app: &impl AuthSystem,
) -> anyhow::Result<()> {
    let id = app
        .create_user("ada@example.com", vec![])
        .await?
        .to_string();
    let token = app.token_of("ada@example.com").await?;
    let status = upload(
        app,
        &token,
        &id,
        "image/png",
        b"<?php echo 'hi'; ?>".to_vec(),
    )
    .await?;
    assert!(status.is_success(), "{status}");
    // The refusal is the job's result; the avatar stays unset.
    let store = app.store().await?;
    eventually("the upload is judged", || async {
        app.step_background().await?;
        let mut judged = Vec::new();
        for shard in 0..shared::jobs::repo::JOB_SHARDS {
            let page = store
                .query(shared::store::Query::index(
                    shared::store::Index::Gsi2,
                    shared::jobs::repo::type_partition("process_avatar", shard),
                ))
                .await?;
            for item in page.items {
                let job: shared::jobs::Job = item.record()?;
                if job.status == shared::jobs::JobStatus::Succeeded {
                    judged.push(job.result.unwrap_or_default());
                }
            }
        }
        Ok(judged.pop())
    })
    .await
    .map(|result| {
        assert_eq!(result["accepted"], false, "{result}");
        assert!(
            result["reason"].as_str().unwrap().contains("not a PNG"),
            "{result}"
        );
    })?;
    assert_eq!(avatar_url(app, &token, &id).await?, Value::Null);

    let other = app.create_user("grace@example.com", vec![]).await?;
    let path = format!("/api/v1/users/{other}/avatar");
    let body = json!({"content_type": "image/png"});
    let (status, _) = send(app, Method::POST, &path, &token, Some(body)).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let svg = json!({"content_type": "image/svg+xml"});
    let (status, problem) = send(
        app,
        Method::POST,
        &format!("/api/v1/users/{id}/avatar"),
        &token,
        Some(svg),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], "content_type");
    Ok(())
}

on_both_systems!(
    an_uploaded_image_becomes_a_square_png_avatar_and_replaces_the_last,
    text_named_png_is_refused_and_changes_nothing,
);
