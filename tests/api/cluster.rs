//! Several servers behind a real load balancer (issue 22, item 5): three `safecode serve`
//! processes on one database behind HAProxy (Debian's package, started by
//! scripts/haproxy.sh). Capacity, quotas, idempotency, sign-out, status-list freshness and
//! per-address rate limits behave as with one server, and a server killed mid-load loses no
//! answered request. And reads from a streaming replica (scripts/pg-replica.sh) only while it
//! keeps up.

use crate::helpers::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// A port free on `ip` now.
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// HAProxy on 127.0.0.2, reaching the servers from 127.0.0.3 (the servers' trusted proxy).
struct Balancer {
    dir: tempfile::TempDir,
    url: String,
}

impl Balancer {
    async fn start(servers: &[&ServeProcess]) -> Balancer {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.2:{}", free_port("127.0.0.2"));
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(script("haproxy.sh"))
            .arg("start")
            .arg(dir.path())
            .arg(&listen)
            .arg("127.0.0.3");
        for s in servers {
            cmd.arg(s.address.trim_start_matches("http://"));
        }
        let out = cmd.output_off_runtime().await.unwrap().unwrap();
        assert!(
            out.status.success(),
            "haproxy: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Balancer {
            dir,
            url: format!("http://{listen}"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script("haproxy.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// A client whose connections come from `ip` (another machine, as far as the servers see).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(ip.parse().unwrap()))
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(
    c: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
    key: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut r = c.post(url).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    r.send().await
}

/// Opens a shelter through the balancer; its id.
async fn shelter_via(
    c: &reqwest::Client,
    lb: &Balancer,
    official: &str,
    name: &str,
    capacity: i64,
) -> String {
    let body = json!({"name": name, "location": {"lat": 30.2, "lon": 120.3}, "capacity": capacity});
    let res = post(c, lb.url("/v1/shelters"), Some(official), body, None)
        .await
        .unwrap();
    json_ok(res).await["id"].as_str().unwrap().to_owned()
}

async fn status_of(r: reqwest::Result<reqwest::Response>) -> u16 {
    match r {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn three_servers_behind_haproxy_behave_as_one_and_a_killed_one_loses_nothing_answered() {
    let app = spawn_app().await;
    let official = app.official().await;
    let env = [
        ("SAFECODE_TRUSTED_PROXIES", "127.0.0.3"),
        ("SAFECODE_RATE_LIMITS", "register_per_ip=4"),
        ("SAFECODE_STATUS_LIST_DEBOUNCE_SECS", "1"),
    ];
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(ServeProcess::start_with(&app, "127.0.0.1:0", &env).await);
    }
    let lb = Balancer::start(&servers.iter().collect::<Vec<_>>()).await;
    let c = client_from("127.0.0.1");

    // Capacity: nine codes at a shelter for three, through three servers at once.
    let small = shelter_via(&c, &lb, &official, "Small", 3).await;
    let big = shelter_via(&c, &lb, &official, "Gym", 10_000).await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [small, big]}))
        .await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let (_, t) = app.registered().await;
        codes.push(code_of(&app, &t).await);
    }
    let admitted = join_all(codes[..9].iter().map(|t| {
        post(
            &c,
            lb.url(&format!("/v1/shelters/{small}/checkins")),
            Some(&staff),
            json!({"token": t}),
            None,
        )
    }))
    .await;
    let mut statuses = Vec::new();
    for r in admitted {
        statuses.push(status_of(Ok(r.unwrap())).await);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        6,
        "{statuses:?}"
    );

    // Idempotency: one check-in sent six times at once under one key is applied once.
    let key = uuid::Uuid::new_v4().to_string();
    let same = join_all((0..6).map(|_| {
        post(
            &c,
            lb.url(&format!("/v1/shelters/{big}/checkins")),
            Some(&staff),
            json!({"token": codes[9]}),
            Some(&key),
        )
    }))
    .await;
    let mut stays = std::collections::HashSet::new();
    for r in same {
        let v = json_ok(r.unwrap()).await;
        stays.insert(v["stay_id"].to_string());
    }
    assert_eq!(stays.len(), 1, "{stays:?}");
    let gym: Value = json_ok(
        c.get(lb.url(&format!("/v1/shelters/{big}")))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(gym["occupancy"], 1);

    // Quotas: two bottles a person, six asked for at once.
    let water = json_ok(
        post(
            &c,
            lb.url("/v1/relief-items"),
            Some(&official),
            json!({"name": "Water", "unit": "bottle", "quota": 2, "per": "person"}),
            None,
        )
        .await
        .unwrap(),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let given = join_all((0..6).map(|_| {
        post(
            &c,
            lb.url(&format!("/v1/shelters/{big}/distributions")),
            Some(&staff),
            json!({"token": codes[9], "item_id": water, "quantity": 1}),
            None,
        )
    }))
    .await;
    let mut given_statuses = Vec::new();
    for r in given {
        given_statuses.push(status_of(r).await);
    }
    assert_eq!(
        given_statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{given_statuses:?}"
    );

    // Sign-out: a token ended through the balancer is refused by every server within the
    // principal cache's 2 s.
    let (_, leaving) = app
        .create_user("staff", json!({"shelter_ids": [big]}))
        .await;
    for s in &servers {
        let r = c
            .get(s.url("/v1/shelters"))
            .bearer_auth(&leaving)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = c
        .delete(lb.url("/v1/tokens/current"))
        .bearer_auth(&leaving)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    for s in &servers {
        let r = c
            .get(s.url("/v1/shelters"))
            .bearer_auth(&leaving)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{}", s.address);
    }

    // Status-list freshness: an order through server 1 is in server 3's bundle within 5 s.
    let zone = app.square_zone(&official, "riverside").await;
    let (_, inside) = resident_at(&app, 30.05, 120.05, &[]).await;
    let green = code_of(&app, &inside).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = post(
        &c,
        servers[0].url(&format!("/v1/zones/{zone}/orders")),
        Some(&official),
        json!({"level": "mandatory", "reason": "levee breach"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let ordered = Instant::now();
    loop {
        let text = c
            .get(servers[2].url("/v1/verifier/bundle"))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let b = safecode::token::offline::Bundle::from_json(&text).unwrap();
        if let safecode::token::offline::Outcome::Valid {
            colour: safecode::domain::Colour::Red,
            ..
        } = safecode::token::offline::verify(&green, &b, chrono::Utc::now().timestamp() + 1)
        {
            break;
        }
        assert!(
            ordered.elapsed() < Duration::from_secs(5),
            "not red on server 3 after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Rate limits per client address: each server reads the client from X-Forwarded-For
    // (HAProxy is trusted), so one client's registrations run out — at 4 a minute a server,
    // 12 through three — while another machine's are untouched, and a client writing its own
    // X-Forwarded-For gains nothing.
    let register = |from: &reqwest::Client, forged: Option<&str>| {
        let mut body = resident_body();
        body["id_number"] = json!(new_id_number());
        let mut r = from.post(lb.url("/v1/residents")).json(&body);
        if let Some(f) = forged {
            r = r.header("X-Forwarded-For", f);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let mut from_a = Vec::new();
    for _ in 0..15 {
        from_a.push(register(&c, None).await);
    }
    let ok = from_a.iter().filter(|s| **s == 201).count();
    assert!((4..=12).contains(&ok), "{from_a:?}");
    assert_eq!(from_a.last(), Some(&429), "{from_a:?}");
    assert_eq!(
        register(&c, Some("198.51.100.9")).await,
        429,
        "a forged address is not believed"
    );
    let b = client_from("127.0.0.4");
    assert_eq!(
        register(&b, None).await,
        201,
        "another client keeps its own allowance"
    );

    // A server killed mid-load. Verifies are retried by HAProxy (they change nothing);
    // check-ins carry an Idempotency-Key, so HAProxy retries them too, and a client that got
    // no answer sends the same key again. Every check-in is applied exactly once, and every
    // one answered is there.
    let mut fresh = Vec::new();
    for _ in 0..40 {
        let (_, t) = app.registered().await;
        fresh.push(code_of(&app, &t).await);
    }
    let queue = Arc::new(std::sync::Mutex::new(fresh.clone()));
    let done = Arc::new(AtomicUsize::new(0));
    let client_retries = Arc::new(AtomicUsize::new(0));
    let verify_failures = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (queue, done, retries, failures) = (
            queue.clone(),
            done.clone(),
            client_retries.clone(),
            verify_failures.clone(),
        );
        let (c, staff, base, big, probe) = (
            client_from("127.0.0.1"),
            staff.clone(),
            lb.url(""),
            big.clone(),
            codes[10].clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Some(code) = queue.lock().unwrap().pop() else {
                    return;
                };
                let key = uuid::Uuid::new_v4().to_string();
                let mut answered = None;
                for attempt in 0..20 {
                    let r = post(
                        &c,
                        format!("{base}/v1/shelters/{big}/checkins"),
                        Some(&staff),
                        json!({"token": code}),
                        Some(&key),
                    )
                    .await;
                    match status_of(r).await {
                        201 => {
                            answered = Some(attempt);
                            break;
                        }
                        _ => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                assert!(
                    answered.is_some(),
                    "worker {w}: a check-in never answered 201"
                );
                done.fetch_add(1, Ordering::Relaxed);
                let v = post(
                    &c,
                    format!("{base}/v1/verify"),
                    Some(&staff),
                    json!({"token": probe}),
                    None,
                )
                .await;
                if status_of(v).await != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    while done.load(Ordering::Relaxed) < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = servers.remove(1);
    killed.kill();
    for w in workers {
        w.await.unwrap();
    }
    let gym: Value = json_ok(
        c.get(lb.url(&format!("/v1/shelters/{big}")))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        gym["occupancy"],
        1 + fresh.len(),
        "every check-in once (client retries: {})",
        client_retries.load(Ordering::Relaxed)
    );
    assert_eq!(
        verify_failures.load(Ordering::Relaxed),
        0,
        "HAProxy retried every verify the killed server left unanswered"
    );
    eprintln!(
        "killed one of three servers after 10 of {} check-ins: {} client retries, every check-in applied once",
        fresh.len(),
        client_retries.load(Ordering::Relaxed)
    );
}

/// A streaming replica of its own primary (scripts/pg-replica.sh), stopped when dropped.
struct ReplicaPair {
    dir: std::path::PathBuf,
    primary: String,
    replica: String,
}

impl ReplicaPair {
    async fn start() -> ReplicaPair {
        let dir = std::env::temp_dir().join(format!("safecode-replica-{}", uuid::Uuid::new_v4()));
        let out = std::process::Command::new("bash")
            .arg(script("pg-replica.sh"))
            .arg("start")
            .arg(&dir)
            .arg(free_port("127.0.0.1").to_string())
            .arg(free_port("127.0.0.1").to_string())
            .output_off_runtime()
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "pg-replica.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let urls: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        ReplicaPair {
            dir,
            primary: urls[0].clone(),
            replica: urls[1].clone(),
        }
    }

    async fn on_replica(&self, sql: &'static str) {
        let pool = sqlx::PgPool::connect(&self.replica).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

impl Drop for ReplicaPair {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script("pg-replica.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// One of the server's own counters from /metrics.
async fn metric(app: &TestApp, name: &str) -> i64 {
    let text = app.public_text("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

async fn colour_now(app: &TestApp, staff: &str, code: &str) -> String {
    let v = json_ok(app.post("/v1/verify", staff, &json!({"token": code})).await).await;
    v["current_colour"].as_str().unwrap().to_owned()
}

/// Waits (10 s at most) until the server reads from the replica.
async fn caught_up(app: &TestApp) {
    let start = Instant::now();
    while metric(app, "replica_fresh").await != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the replica never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A mandatory order over `zone`; the holder of `code` scans red within a second of it.
async fn red_within_a_second(app: &TestApp, official: &str, zone: &str, staff: &str, code: &str) {
    let r = app
        .order(
            official,
            zone,
            &json!({"level": "mandatory", "reason": "the river is over its banks"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ordered = Instant::now();
    while colour_now(app, staff, code).await != "red" {
        assert!(
            ordered.elapsed() < Duration::from_secs(1),
            "red later than a second (replica fresh: {})",
            metric(app, "replica_fresh").await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostgreSQL only (a replica is PostgreSQL's): it runs in the PostgreSQL pass of the suite.
#[tokio::test]
async fn reads_go_to_the_replica_only_while_it_keeps_up() {
    if std::env::var("SAFECODE_TEST_POSTGRES").is_err() {
        eprintln!("a read replica is PostgreSQL's: tested in the PostgreSQL pass");
        return;
    }
    let pair = ReplicaPair::start().await;
    let (mut settings, dir) = test_settings().await;
    settings.database_url = safecode::config::DatabaseUrl::Postgres(pair.primary.clone());
    settings.database_read_url = Some(pair.replica.clone());
    settings.read_max_lag_ms = 500;
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let zone = app.square_zone(&official, "riverside").await;
    let (_, first) = resident_at(&app, 30.05, 120.05, &[]).await;
    let first = code_of(&app, &first).await;
    let east = app
        .zone(
            &official,
            &feature(
                "east bank",
                json!({"type": "Polygon", "coordinates": [rect(121.0, 30.0, 121.1, 30.1)]}),
            ),
        )
        .await;
    let (_, second) = resident_at(&app, 30.05, 121.05, &[]).await;
    let second = code_of(&app, &second).await;

    // Keeping up: scans read the replica, and an order shows at once all the same.
    caught_up(&app).await;
    let reads = metric(&app, "replica_reads_total").await;
    assert_eq!(colour_now(&app, &staff, &first).await, "green");
    assert!(
        metric(&app, "replica_reads_total").await > reads,
        "the scan read the replica"
    );
    red_within_a_second(&app, &official, &zone, &staff, &first).await;

    // Falling behind: replay paused, an order on the east bank. Within a second the scans
    // read the primary, and the colour is red from then on.
    pair.on_replica("SELECT pg_wal_replay_pause()").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    red_within_a_second(&app, &official, &east, &staff, &second).await;
    for _ in 0..5 {
        assert_eq!(colour_now(&app, &staff, &second).await, "red");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&app, "replica_fresh").await, 0);
    assert!(metric(&app, "replica_lag_ms").await > 500);
    assert!(metric(&app, "replica_fallbacks_total").await > 0);

    // Caught up again: back to the replica.
    pair.on_replica("SELECT pg_wal_replay_resume()").await;
    caught_up(&app).await;
    let reads = metric(&app, "replica_reads_total").await;
    assert_eq!(colour_now(&app, &staff, &second).await, "red");
    assert!(metric(&app, "replica_reads_total").await > reads);
}
