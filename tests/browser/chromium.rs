//! Headless Chromium for the browser tests, driven over WebDriver through chromedriver.
//!
//! Why fantoccini (WebDriver) rather than chromiumoxide (the DevTools protocol directly): Debian
//! builds `chromium-driver` from the same source as `chromium`, so driver and browser always
//! speak the same version, and WebDriver is a W3C standard that will not drift under us;
//! fantoccini is also a small crate, where chromiumoxide compiles generated bindings for the whole
//! DevTools protocol (minutes more on CI's two cores). The two things WebDriver lacks come from
//! chromedriver's own endpoints: the browser's console log (where Chromium reports every CSP
//! violation) and DevTools commands (an exact viewport size for phone and desktop).
//!
//! The browser tests fail, with how to install them, when Chromium or chromedriver is missing,
//! unless `PATROLI_SKIP_BROWSER=1` is set (CI never sets it).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Method;
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Set to `1` to skip the browser tests on a machine without Chromium.
const SKIP_VAR: &str = "PATROLI_SKIP_BROWSER";
/// A desktop viewport, in CSS pixels.
pub const DESKTOP: (u32, u32) = (1280, 800);
/// A phone's viewport (an iPhone 12 to 15), in CSS pixels.
pub const PHONE: (u32, u32) = (390, 844);
/// How long chromedriver may take to start answering.
const DRIVER_START: Duration = Duration::from_secs(20);
/// How long a page or a download may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// A headless Chromium with its chromedriver. Dropping it ends the WebDriver session (which
/// makes Chromium and its helper processes exit; killing chromedriver alone would leave them
/// running) and then chromedriver.
pub struct Browser {
    client: Client,
    /// Where Chromium saves downloads.
    downloads: tempfile::TempDir,
    driver_port: u16,
    session: String,
    _driver: tokio::process::Child,
}

/// The program `name` on `PATH`, if there is one.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A port on 127.0.0.1 that was free a moment ago (chromedriver takes a port number, not a
/// bound socket).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at the desktop size. `None` only when
    /// `PATROLI_SKIP_BROWSER=1`; panics, saying how to install them, when either is missing.
    pub async fn start() -> Option<Browser> {
        if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
            eprintln!("{SKIP_VAR}=1: the browser tests are skipped");
            return None;
        }
        let (chromium, chromedriver) = match (on_path("chromium"), on_path("chromedriver")) {
            (Some(c), Some(d)) => (c, d),
            (c, _) => panic!(
                "the browser tests need Chromium and chromedriver, and {} is not on PATH. \
                 Install both with `apt-get install -y chromium chromium-driver` (Debian; \
                 .ci/run does this), or set {SKIP_VAR}=1 to skip the browser tests on this machine",
                if c.is_none() {
                    "chromium"
                } else {
                    "chromedriver"
                }
            ),
        };
        let driver_port = free_port();
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        wait_until_ready(&webdriver).await;
        let downloads = tempfile::tempdir().expect("a temporary download folder");
        let capabilities: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium,
                // No sandbox: CI runs as root, where Chromium's sandbox cannot start.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--hide-scrollbars"],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                },
            },
        }))
        .expect("capabilities are a JSON object");
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("chromedriver cannot start Chromium: {e}"));
        let session = client
            .session_id()
            .await
            .expect("the session's id")
            .expect("a W3C session has an id");
        let browser = Browser {
            client,
            downloads,
            driver_port,
            session,
            _driver: driver,
        };
        browser.viewport(DESKTOP).await;
        Some(browser)
    }

    /// Emulates a viewport of `width` × `height` CSS pixels at one device pixel per CSS pixel;
    /// narrower than 600 px it is a phone's (touch, and the page's viewport meta tag applies).
    pub async fn viewport(&self, (width, height): (u32, u32)) {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The element `css` selects on the current page.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    /// Every element `css` selects on the current page.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("cannot look for {css}: {e}"))
    }

    /// Clicks the link or button `css` selects and waits until the page it opens has loaded.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        // The page being left carries this mark; the next one does not.
        let left = "document.documentElement.setAttribute('data-left', '')";
        let arrived = "return document.readyState === 'complete' \
                       && !document.documentElement.hasAttribute('data-left');";
        self.client.execute(left, vec![]).await.unwrap();
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.client.execute(arrived, vec![]).await.ok() != Some(Value::Bool(true)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "clicking {css} opened no page within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the field `css` selects.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        element.text().await.expect("an element's text")
    }

    /// The page's path (and query).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Content-Security-Policy violations Chromium reported since the last call.
    pub async fn csp_violations(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver returns the browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["message"].as_str())
            .filter(|m| m.contains("Content Security Policy"))
            .map(str::to_string)
            .collect()
    }

    /// How many CSS pixels the page is wider than the layout viewport (0 when nothing scrolls
    /// sideways), and the layout viewport's width. (On a phone a wider page is zoomed out, which
    /// widens `window.innerWidth` instead.)
    pub async fn overflow(&self) -> (i64, i64) {
        let v = self
            .client
            .execute(
                "const e = document.documentElement; return [e.scrollWidth - e.clientWidth, e.clientWidth];",
                vec![],
            )
            .await
            .expect("the page's widths");
        (v[0].as_i64().unwrap_or(-1), v[1].as_i64().unwrap_or(-1))
    }

    /// Saves the page as a palette PNG `width` CSS pixels wide and as tall as the page, up to
    /// `max_height` (the viewport is set to that size; set it back afterwards).
    pub async fn screenshot(&self, path: &Path, (width, max_height): (u32, u32)) {
        self.viewport((width, max_height)).await;
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .expect("the page's height")
            .as_u64()
            .map_or(max_height, |h| u32::try_from(h).unwrap_or(max_height));
        self.viewport((width, height.min(max_height))).await;
        let png = crate::png::palette(&self.client.screenshot().await.expect("a screenshot"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
    }

    /// Waits for a download named `name` to finish and returns its bytes.
    pub async fn download(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.path().join(name);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            // Chromium writes to NAME.crdownload and renames it when done.
            if path.is_file() {
                return std::fs::read(&path).expect("the downloaded file");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no download {name} after {PATIENCE:?}; the folder has {:?}",
                std::fs::read_dir(self.downloads.path())
                    .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a DevTools command through chromedriver.
    async fn devtools(&self, cmd: &'static str, params: Value) {
        self.client
            .issue_cmd(DevTools { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("DevTools {cmd}: {e}"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Blocking on purpose: this also runs when a test panics, after which no async task
        // (fantoccini's own close) would run. Chromium has quit when chromedriver answers (it
        // keeps the connection open, so read the answer's head, not to the end).
        let closed = TcpStream::connect(("127.0.0.1", self.driver_port)).and_then(|mut s| {
            s.set_read_timeout(Some(PATIENCE))?;
            write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                self.session
            )?;
            let mut answer = Vec::new();
            let mut buf = [0; 1024];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf)? {
                    0 => break,
                    n => answer.extend_from_slice(&buf[..n]),
                }
            }
            Ok(())
        });
        if let Err(e) = closed {
            eprintln!("could not end the WebDriver session; Chromium may still run: {e}");
        }
    }
}

async fn wait_until_ready(webdriver: &str) {
    let deadline = tokio::time::Instant::now() + DRIVER_START;
    loop {
        let ready = match reqwest::get(format!("{webdriver}/status")).await {
            Ok(r) => r
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|s| s["value"]["ready"] == true),
            Err(_) => false,
        };
        if ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not answer on {webdriver} within {DRIVER_START:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// chromedriver's log endpoint (not in the W3C standard): the browser's console entries since
/// the last call, CSP violations among them (`goog:loggingPrefs` turns it on).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// chromedriver's DevTools endpoint: one DevTools protocol command on the current page.
#[derive(Debug)]
struct DevTools {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}
