//! A real headless Chromium (Debian's, installed by scripts/install-test-tools.sh when
//! missing) driven over WebDriver by chromedriver, with a fresh profile each time.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::time::Duration;

pub struct Browser {
    pub client: Client,
    driver: std::process::Child,
    profile: tempfile::TempDir,
}

/// Installs what the tests run besides Rust (xmllint, Chromium, ChromeDriver, a CJK font)
/// through the project's script, once per test run, so `cargo test` alone runs everything.
pub fn install_test_tools() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let script = format!(
            "{}/scripts/install-test-tools.sh",
            env!("CARGO_MANIFEST_DIR")
        );
        let ok = std::process::Command::new("bash").arg(script).status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "scripts/install-test-tools.sh failed"
        );
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where screenshots go, to be looked at after a run.
pub fn artifacts() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

impl Browser {
    /// A phone-sized window; `extra` adds Chromium flags (a fake camera, say).
    pub async fn start(extra: &[String]) -> Browser {
        install_test_tools();
        let port = free_port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile folder");
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-quic",
            "--window-size=412,915",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium", "args": args}),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    /// Runs a script (its `return` value comes back).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until a script expression is true; panics with `what` after 30 s.
    pub async fn until(&self, expr: &str, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.js(&format!("return !!({expr});"), vec![]).await == json!(true) {
                return;
            }
            if std::time::Instant::now() > deadline {
                let _ = self
                    .screenshot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                let body = self.js("return document.body.innerText;", vec![]).await;
                panic!("timed out waiting for {what}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        // The console redraws its lists as live updates arrive: a click that lands while the
        // page is being laid out again (or on an element just replaced) is tried once more.
        for attempt in 0..30 {
            let e = self.wait_for(css).await;
            match e.click().await {
                Ok(()) => return,
                Err(err) => {
                    let what = format!("{err:?}");
                    let transient = [
                        "ElementNotInteractable",
                        "ElementClickIntercepted",
                        "StaleElementReference",
                    ]
                    .iter()
                    .any(|k| what.contains(k));
                    if !transient || attempt == 29 {
                        panic!("click {css}: {what}");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.js(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
             s.dispatchEvent(new Event('change')); return s.value;",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("text")
    }

    /// A PNG of the viewport, also saved under target/browser-artifacts/NAME.png.
    pub async fn screenshot(&self, name: &str) -> Vec<u8> {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(artifacts().join(format!("{name}.png")), &png).expect("save screenshot");
        png
    }

    /// A cookie of the current page's site, as the browser keeps it (HttpOnly ones too).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_owned())
    }

    /// A PNG of one element only (a QR code on a screen).
    pub async fn element_png(&self, css: &str, name: &str) -> Vec<u8> {
        // Chromium takes an element's picture from the viewport: it must be on screen.
        self.js(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![json!(css)],
        )
        .await;
        let png = self
            .wait_for(css)
            .await
            .screenshot()
            .await
            .expect("element screenshot");
        std::fs::write(artifacts().join(format!("{name}.png")), &png).expect("save screenshot");
        png
    }

    /// Chromium's virtual authenticator (WebDriver's WebAuthn extension): a platform
    /// authenticator that keeps passkeys and verifies its user, as a phone's fingerprint does.
    pub async fn virtual_authenticator(&self) {
        self.client
            .issue_cmd(AddVirtualAuthenticator)
            .await
            .expect("a virtual authenticator");
    }

    /// Cuts the browser off the network (or reconnects it), as a lost signal would.
    pub async fn offline(&self, offline: bool) {
        self.client
            .issue_cmd(NetworkConditions { offline })
            .await
            .expect("network conditions");
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A browser whose driver died would linger: it is the one using this profile.
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(format!("user-data-dir={}", self.profile.path().display()))
            .status();
    }
}

/// A camera that films `png` (a rendered code) on a white wall: Y4M, 4:2:0, 640×480.
pub fn y4m_of(png: &[u8]) -> std::path::PathBuf {
    let code = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (w, h) = (640u32, 480u32);
    let side = 420u32;
    let scaled = image::imageops::resize(&code, side, side, image::imageops::FilterType::Nearest);
    let mut y = vec![255u8; (w * h) as usize];
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    for (x, yy, p) in scaled.enumerate_pixels() {
        y[((y0 + yy) * w + x0 + x) as usize] = p.0[0];
    }
    let chroma = vec![128u8; (w * h / 4) as usize];
    let mut out = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..5 {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&y);
        out.extend_from_slice(&chroma);
        out.extend_from_slice(&chroma);
    }
    let path = artifacts().join(format!("camera-{}.y4m", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, out).expect("write the Y4M");
    path
}

#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let options = json!({"protocol": "ctap2_1", "transport": "internal",
            "hasResidentKey": true, "hasUserVerification": true, "isUserVerified": true,
            "isUserConsenting": true});
        (http::Method::POST, Some(options.to_string()))
    }
}

#[derive(Debug)]
struct NetworkConditions {
    offline: bool,
}

impl fantoccini::wd::WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let conditions = json!({"network_conditions": {"offline": self.offline, "latency": 0,
            "download_throughput": -1, "upload_throughput": -1}});
        (http::Method::POST, Some(conditions.to_string()))
    }
}
