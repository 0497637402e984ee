//! A real browser for the tests: headless Chromium driven over WebDriver (W3C, JSON over HTTP)
//! by Debian's `chromedriver`, started on a free port and stopped with the [`Browser`].

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The WebDriver element key (W3C).
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session. Dropping it ends the driver.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; an error naming the packages to
    /// install when they are missing.
    pub async fn start() -> anyhow::Result<Self> {
        let chromium = find(&["chromium", "chromium-browser", "google-chrome"]).context(
            "no Chromium on PATH: install Debian's `chromium` and `chromium-driver` (.ci/run does)",
        )?;
        let driver = find(&["chromedriver"]).context(
            "no chromedriver on PATH: install Debian's `chromium-driver` (.ci/run does)",
        )?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", driver.display()))?;
        let mut browser = Self {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        browser.wait_for_driver().await?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1024"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let session = browser.call("POST", "/session", Some(capabilities)).await?;
        let id = session["sessionId"]
            .as_str()
            .context("the driver gave no session id")?;
        browser.base = format!("{}/session/{id}", browser.base);
        Ok(browser)
    }

    async fn wait_for_driver(&mut self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Ok(response) = self
                .client
                .get(format!("{}/status", self.base))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.driver.try_wait()? {
                bail!("chromedriver exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not answer within 30 s")
    }

    /// One WebDriver command; its `value`.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(&url),
            "DELETE" => self.client.delete(&url),
            _ => self
                .client
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {}", answer["value"]);
        }
        Ok(answer["value"].clone())
    }

    pub async fn open(&self, url: &str) -> anyhow::Result<()> {
        self.call("POST", "/url", Some(json!({"url": url})))
            .await
            .map(drop)
    }

    pub async fn title(&self) -> anyhow::Result<String> {
        Ok(self
            .call("GET", "/title", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The elements `css` selects, now.
    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<String>> {
        let found = self
            .call(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect())
    }

    /// The first element `css` selects, waiting up to 30 s for one.
    pub async fn find(&self, css: &str) -> anyhow::Result<String> {
        for _ in 0..300 {
            if let Some(element) = self.find_all(css).await?.into_iter().next() {
                return Ok(element);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("nothing matched {css:?} within 30 s")
    }

    pub async fn click(&self, element: &str) -> anyhow::Result<()> {
        self.call("POST", &format!("/element/{element}/click"), None)
            .await
            .map(drop)
    }

    pub async fn text(&self, element: &str) -> anyhow::Result<String> {
        let text = self
            .call("GET", &format!("/element/{element}/text"), None)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    pub async fn attribute(&self, element: &str, name: &str) -> anyhow::Result<Option<String>> {
        let value = self
            .call("GET", &format!("/element/{element}/attribute/{name}"), None)
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The page's visible text, once it contains `needle` (waiting up to 30 s for a navigation).
    pub async fn text_containing(&self, needle: &str) -> anyhow::Result<String> {
        let mut text = String::new();
        for _ in 0..300 {
            let script = json!({"script": "return document.body ? document.body.innerText : ''", "args": []});
            if let Ok(now) = self.call("POST", "/execute/sync", Some(script)).await {
                text = now.as_str().unwrap_or_default().to_owned();
                if text.contains(needle) {
                    return Ok(text);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the page never said {needle:?}; it says: {text}")
    }

    /// Saves a PNG of the window under `dir`; its path.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
        let data = self.call("GET", "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().context("no screenshot data")?)?;
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// The console's messages of level SEVERE (errors, CSP violations) since the last call.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let log = self
            .call("POST", "/se/log", Some(json!({"type": "browser"})))
            .await?;
        Ok(log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter_map(|entry| entry["message"].as_str().map(str::to_owned))
            .collect())
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let ended = self.call("DELETE", "", None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        ended.map(drop)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}
