use reqwest::{Client, Response, StatusCode};
use safecode::config::{DatabaseUrl, Settings};
use safecode::service::Ctx;
use safecode::startup::Application;
use serde_json::{Value, json};
use sqlx::Connection;
use std::path::PathBuf;

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub admin_token: String,
    pub ctx: Ctx,
    pub settings: Settings,
    pub dir: tempfile::TempDir,
}

/// A database of its own for one test: a file in a temporary folder, or a new database on
/// the PostgreSQL server named by SAFECODE_TEST_POSTGRES.
pub async fn fresh_database(dir: &std::path::Path) -> DatabaseUrl {
    match std::env::var("SAFECODE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    {
        Some(base) => {
            let name = format!("safecode_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("connect to SAFECODE_TEST_POSTGRES");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (prefix, _) = base
                .rsplit_once('/')
                .expect("postgres URL with a database name");
            DatabaseUrl::Postgres(format!("{prefix}/{name}"))
        }
        None => DatabaseUrl::Sqlite(format!(
            "sqlite://{}",
            dir.join("data/safecode.db").display()
        )),
    }
}

pub async fn test_settings() -> (Settings, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        max_db_connections: 5,
        workers: Some(2),
        import_limit_bytes: 200 * 1024 * 1024,
        approver_cooling_off_hours: 0,
        status_list_debounce_secs: 1,
        audit_anchor_secs: 1,
        // Tests register hundreds from one address; tests/api/limits.rs turns them on.
        rate_limits: safecode::config::RateLimitSettings::off(),
        ..Settings::defaults_on(fresh_database(dir.path()).await, dir.path().join("keys"))
    };
    (settings, dir)
}

pub async fn spawn_app() -> TestApp {
    let (settings, dir) = test_settings().await;
    spawn_with(settings, dir).await
}

pub async fn spawn_with(settings: Settings, dir: tempfile::TempDir) -> TestApp {
    let app = Application::build(&settings).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let admin_token = app
        .bootstrap_admin_token
        .clone()
        .expect("first start creates an admin");
    let ctx = app.ctx().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: test_client(),
        admin_token,
        ctx,
        settings,
        dir,
    }
}

/// A second server process on the same database and the same keys folder as `app`.
pub async fn another_server(app: &TestApp) -> TestApp {
    let built = Application::build(&app.settings)
        .await
        .expect("build second app");
    assert!(
        built.bootstrap_admin_token.is_none(),
        "the second server finds the first one's admin"
    );
    let address = format!("http://127.0.0.1:{}", built.port());
    let ctx = built.ctx().clone();
    tokio::spawn(built.run_until_stopped());
    TestApp {
        address,
        client: test_client(),
        admin_token: app.admin_token.clone(),
        ctx,
        settings: app.settings.clone(),
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

/// A valid PRC resident ID number, different on every call.
/// The HTTP client every test uses. Its idle pooled connections are dropped after 2 s, below
/// the server's 5 s keep-alive: a test that pauses longer (installing a tool, waiting for a
/// debounce) must not send its next request on a connection the server has just closed
/// (`IncompleteMessage`, seen on a fresh machine's first run).
pub fn test_client() -> Client {
    safecode::outbound::install_crypto();
    Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

pub fn new_id_number() -> String {
    safecode::synthetic::id_number(rand::random::<u64>() % 32_000_000, 0)
}

/// A valid PRC ID number with a wrong check character.
pub fn bad_checksum(id: &str) -> String {
    let last = id.as_bytes()[17];
    let wrong = if last == b'0' { '1' } else { '0' };
    format!("{}{wrong}", &id[..17])
}

/// A resident registered at a given place; returns (resident_id, access_token).
pub async fn resident_at(app: &TestApp, lat: f64, lon: f64, needs: &[&str]) -> (String, String) {
    let mut body = resident_body();
    body["location"] = json!({"lat": lat, "lon": lon});
    body["needs"] = json!(needs);
    let res = app.register(&body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    (
        v["resident_id"].as_str().unwrap().to_owned(),
        v["access_token"].as_str().unwrap().to_owned(),
    )
}

/// A closed ring around a lon/lat rectangle, as GeoJSON positions.
pub fn rect(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Value {
    json!([
        [lon0, lat0],
        [lon1, lat0],
        [lon1, lat1],
        [lon0, lat1],
        [lon0, lat0]
    ])
}

pub fn feature(name: &str, geometry: Value) -> Value {
    json!({"type": "Feature", "properties": {"name": name}, "geometry": geometry})
}

pub fn resident_body() -> Value {
    json!({
        "name": "王小明",
        "id_number": new_id_number(),
        "phone": "13912345678",
        "address": "杭州市萧山区城厢街道1号",
        "location": {"lat": 30.18, "lon": 120.26},
        "needs": ["elderly"]
    })
}

pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(
        res.status().as_u16(),
        status,
        "status for expected code {code}"
    );
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}"
    );
    let body: Value = res.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["type"].as_str().unwrap().ends_with(code), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn register(&self, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/residents"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a resident; returns (resident_id, access_token).
    pub async fn registered(&self) -> (String, String) {
        let res = self.register(&resident_body()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let v: Value = res.json().await.unwrap();
        (
            v["resident_id"].as_str().unwrap().to_owned(),
            v["access_token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn create_user(&self, role: &str, extra: Value) -> (String, String) {
        let mut body = json!({"role": role, "name": format!("{role} Chen")});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let res = self
            .client
            .post(self.url("/v1/users"))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        let v: Value = res.json().await.unwrap();
        (
            v["user_id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn official(&self) -> String {
        self.create_user("official", json!({})).await.1
    }

    /// Approves a pending request as `official`; asserts it took.
    pub async fn approve(&self, official: &str, approval: &Value) {
        // An override request answers with the override's id and its approval's.
        let id = approval["approval_id"]
            .as_str()
            .or(approval["id"].as_str())
            .expect("an approval");
        let res = self
            .post(&format!("/v1/approvals/{id}/approve"), official, &json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    }

    /// The SMS/voice gateway's token: it reads and marks the outbox, nothing else.
    pub async fn gateway(&self) -> String {
        self.create_user("gateway", json!({})).await.1
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Residents stored, read straight from the database.
    pub async fn resident_count(&self) -> i64 {
        safecode::on_db!(&self.ctx.db, |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM residents")
                .fetch_one(c)
                .await
                .unwrap()
        })
    }

    /// Runs `sql` on the audit log with its append-only guard removed, as an attacker with
    /// database access could.
    pub async fn tamper_with_audit_log(&self, sql: &'static str) {
        safecode::on_db!(&self.ctx.db, |c| {
            if self.is_postgres() {
                sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
                    .execute(c)
                    .await
                    .unwrap();
            } else {
                sqlx::query("DROP TRIGGER audit_log_no_update")
                    .execute(c)
                    .await
                    .unwrap();
                sqlx::query("DROP TRIGGER audit_log_no_delete")
                    .execute(c)
                    .await
                    .unwrap();
            }
            sqlx::query(sql).execute(c).await.unwrap();
        });
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// [`Self::post`] with an `Idempotency-Key`, as a client that may retry sends it.
    pub async fn post_keyed(&self, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a zone and returns its id.
    pub async fn zone(&self, official: &str, feature: &Value) -> String {
        let res = self.post("/v1/zones", official, feature).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        let v: Value = res.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// The 0.1° square zone most tests draw (lon 120.0–120.1, lat 30.0–30.1).
    pub async fn square_zone(&self, official: &str, name: &str) -> String {
        let geometry = json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.1, 30.1)]});
        self.zone(official, &feature(name, geometry)).await
    }

    /// Issues (or tries to issue) an order over a zone.
    pub async fn order(&self, official: &str, zone: &str, body: &Value) -> Response {
        self.post(&format!("/v1/zones/{zone}/orders"), official, body)
            .await
    }

    /// The body of a page anyone may read (metrics, keys).
    pub async fn public_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// POST /v1/verify with a multipart photo.
    pub async fn verify_photo(&self, token: &str, form: reqwest::multipart::Form) -> Response {
        self.client
            .post(self.url("/v1/verify"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// A resident's colour as an official sees it.
    pub async fn colour(&self, official: &str, resident: &str) -> String {
        let v: Value = self
            .get(&format!("/v1/residents/{resident}"), official)
            .await
            .json()
            .await
            .unwrap();
        v["colour"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned()
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        let v: Value = self
            .get("/v1/audit?limit=1000", &self.admin_token)
            .await
            .json()
            .await
            .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn audit_verify(&self) -> Value {
        let res = self.get("/v1/audit/verify", &self.admin_token).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.settings.database_url, DatabaseUrl::Postgres(_))
    }

    /// The SQLite database file's path (None on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<String> {
        match &self.settings.database_url {
            DatabaseUrl::Sqlite(u) => u
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .map(str::to_owned),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    pub fn binary() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_safecode"))
    }
}

/// `safecode serve` as its own operating-system process on `app`'s database and keys folder,
/// listening on a port of its choosing; killed when dropped.
pub struct ServeProcess {
    child: std::process::Child,
    pub address: String,
    /// Everything it wrote to stderr after announcing its address.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServeProcess {
    pub async fn start(app: &TestApp) -> ServeProcess {
        Self::start_on(app, "127.0.0.1:0").await
    }

    /// Listening on `bind` (a fixed port, to come back where a client expects it).
    pub async fn start_on(app: &TestApp, bind: &str) -> ServeProcess {
        Self::start_with(app, bind, &[]).await
    }

    /// With more environment variables.
    /// Waits for its address off the test's runtime: that runtime drives the in-process
    /// server's background tasks, and one of them may be inside a SQLite write transaction
    /// that the new process's start-up has to wait for.
    pub async fn start_with(app: &TestApp, bind: &str, env: &[(&str, &str)]) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(TestApp::binary())
            .arg("serve")
            .env("DATABASE_URL", app.settings.database_url.as_str())
            .env("SAFECODE_KEYS_DIR", &app.settings.keys_dir)
            .env("SAFECODE_BIND", bind)
            .env("SAFECODE_WORKERS", "2")
            .env("SAFECODE_MAX_DB_CONNECTIONS", "5")
            .env("RUST_LOG", "warn")
            .env("SAFECODE_RATE_LIMITS", "off")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start safecode serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        // Reads the announced address, then keeps draining so the server never blocks on a
        // full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(url.to_owned());
                } else if tx.is_none() {
                    eprintln!("[serve] {line}");
                    if let Ok(mut kept) = kept.lock() {
                        kept.push(line);
                    }
                }
            }
        });
        let address = tokio::task::spawn_blocking(move || {
            rx.recv_timeout(std::time::Duration::from_secs(60))
        })
        .await
        .expect("the waiting thread")
        .expect("safecode serve announces where it listens");
        ServeProcess {
            child,
            address,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops it at once, as a power cut or a lost link would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command and collects its output without blocking the test's runtime: that runtime
/// drives the in-process server's background tasks (the admission writer, the status list),
/// which may be holding the database's write lock at that moment.
pub trait OutputOffRuntime {
    fn output_off_runtime(
        &mut self,
    ) -> tokio::task::JoinHandle<std::io::Result<std::process::Output>>;
}

impl OutputOffRuntime for std::process::Command {
    fn output_off_runtime(
        &mut self,
    ) -> tokio::task::JoinHandle<std::io::Result<std::process::Output>> {
        use std::process::Stdio;
        let child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        tokio::task::spawn_blocking(move || child?.wait_with_output())
    }
}

/// Asks for an override (which waits for a second official); the request as answered.
pub async fn request_override(
    app: &TestApp,
    official: &str,
    resident: &str,
    colour: &str,
) -> Value {
    let expires = chrono::Utc::now() + chrono::Duration::days(3);
    let res = app
        .post(&format!("/v1/residents/{resident}/overrides"), official, &json!({"colour": colour, "reason_code": "hazard_at_home", "reason": "house on the dyke", "expires_at": expires}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// The JSON of a successful answer; anything else fails the test with the status and body.
pub async fn json_ok(res: Response) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The text of a resident's current code (as their phone shows it).
pub async fn code_of(app: &TestApp, resident_token: &str) -> String {
    let v = json_ok(app.get("/v1/residents/me/code", resident_token).await).await;
    v["token"].as_str().unwrap().to_owned()
}

/// An alert form for `zones` (ids), as an official sends it.
pub fn alert_form(zones: Value) -> Value {
    json!({"zones": zones, "headline": "Levee breach at Yiqiao", "event": "Flood",
           "description": "Water rising 30 cm an hour.",
           "instruction": "Go to Yiqiao middle school now.",
           "response_type": "Evacuate", "urgency": "Immediate", "severity": "Extreme",
           "certainty": "Observed"})
}

impl TestApp {
    /// Runs one statement on the database directly, as an operator (or a test moving a clock
    /// forward) would.
    pub async fn exec_sql(&self, sql: &str) {
        safecode::on_db!(&self.ctx.db, |c| {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(c)
                .await
                .unwrap();
        });
    }
}

/// A person signed in to `/ops`: the session cookie as the browser would send it, and what
/// their authenticator app holds.
pub struct SignedIn {
    pub cookie: String,
    pub user_id: String,
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
}

/// The value of the `sc_session` cookie a response sets, and the whole header.
pub fn session_cookie(res: &Response) -> Option<(String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sc_session="))
        .map(|v| {
            let value = v["sc_session=".len()..]
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            (value, v.to_owned())
        })
}

/// The code an authenticator app shows now for `secret`, `ahead` steps of 30 s later.
pub fn totp_now(secret: &[u8], ahead: i64) -> String {
    safecode::service::sign_in::totp_at(secret, chrono::Utc::now().timestamp() / 30 + ahead)
}

impl TestApp {
    /// Creates a person with a sign-in name (as an admin does) and goes through their setup
    /// link as they would: the authenticator secret, a password, one code.
    pub async fn person(&self, role: &str, login: &str, extra: Value) -> SignedIn {
        let mut body = json!({"role": role, "name": format!("{role} Wang"), "login": login});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let created = json_ok(self.post("/v1/users", &self.admin_token, &body).await).await;
        assert!(created["token"].is_null(), "a person gets no bearer token");
        let code = setup_code_of(created["setup_url"].as_str().unwrap());
        self.finish_setup(&code, "a long enough passphrase").await
    }

    pub async fn finish_setup(&self, code: &str, password: &str) -> SignedIn {
        let offer = json_ok(
            self.client
                .post(self.url("/v1/auth/setup/offer"))
                .json(&json!({"setup_code": code}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let secret = base32::decode(
            base32::Alphabet::Rfc4648 { padding: false },
            offer["secret"].as_str().unwrap(),
        )
        .unwrap();
        assert!(
            offer["otpauth_uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        let res = self
            .client
            .post(self.url("/v1/auth/setup"))
            .json(&json!({"setup_code": code, "password": password, "code": totp_now(&secret, 0)}))
            .send()
            .await
            .unwrap();
        let (cookie, _) = session_cookie(&res).expect("setup signs in");
        let v = json_ok(res).await;
        SignedIn {
            cookie,
            user_id: v["user_id"].as_str().unwrap().to_owned(),
            secret,
            recovery_codes: v["recovery_codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect(),
        }
    }

    /// A request with a session cookie, from this site's own page (its `Origin`).
    pub fn with_session(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Cookie", format!("sc_session={cookie}"))
            .header("Origin", &self.address)
    }

    pub async fn sign_in(&self, login: &str, password: &str, code: &str) -> Response {
        self.client
            .post(self.url("/v1/auth/sign-in"))
            .json(&json!({"login": login, "password": password, "code": code}))
            .send()
            .await
            .unwrap()
    }
}

/// Six digits the authenticator does not show around now (so a "wrong code" is surely wrong).
pub fn wrong_code(secret: &[u8]) -> String {
    (0..)
        .map(|i| format!("{i:06}"))
        .find(|c| (-1..=2).all(|a| totp_now(secret, a) != *c))
        .expect("a wrong code")
}

/// The one-time code in a setup link (`…/ops#setup=CODE`).
pub fn setup_code_of(url: &str) -> String {
    url.split_once("#setup=")
        .expect("a setup link")
        .1
        .to_owned()
}

impl TestApp {
    /// An admin resets a person's sign-in; the code of the new setup link.
    pub async fn reset_sign_in(&self, user_id: &str) -> String {
        let link = json_ok(
            self.post(
                &format!("/v1/users/{user_id}/reset"),
                &self.admin_token,
                &json!({}),
            )
            .await,
        )
        .await;
        setup_code_of(link["setup_url"].as_str().unwrap())
    }
}
