//! Rate limits, switched on with small numbers: the request past a limit gets 429 problem
//! details with Retry-After and changes nothing; other clients and tokens go on.

use crate::helpers::*;
use serde_json::{Value, json};

async fn limited_app() -> TestApp {
    let (mut settings, dir) = test_settings().await;
    settings.rate_limits = safecode::config::RateLimitSettings {
        enabled: true,
        register_per_ip: 3,
        verify_per_token: 2,
        verify_per_ip: 1000,
        reports_per_token: 1,
        sync_per_token: 1,
        auth_failures_per_ip: 2,
        sign_in_per_ip: 3,
    };
    spawn_with(settings, dir).await
}

async fn assert_limited(res: reqwest::Response) {
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn registration_verification_reports_and_token_guessing_are_limited() {
    let app = limited_app().await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let res = app.register(&resident_body()).await;
        assert_eq!(res.status(), 201);
        tokens.push(
            res.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let fourth = resident_body();
    assert_limited(app.register(&fourth).await).await;

    // Verification: per token. A second desk's token is not held up by the first's.
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, other_desk) = app.create_user("staff", json!({})).await;
    let code: Value = app
        .get("/v1/residents/me/code", &tokens[0])
        .await
        .json()
        .await
        .unwrap();
    let body = json!({"token": code["token"]});
    for _ in 0..2 {
        assert_eq!(app.post("/v1/verify", &staff, &body).await.status(), 200);
    }
    assert_limited(app.post("/v1/verify", &staff, &body).await).await;
    assert_eq!(
        app.post("/v1/verify", &other_desk, &body).await.status(),
        200
    );

    // Reports: one a minute here; the refused one is not stored.
    let report = json!({"category": "flooding", "text": "Water over the road",
                        "location": {"lat": 30.1, "lon": 120.1}});
    assert_eq!(
        app.post("/v1/reports", &tokens[1], &report).await.status(),
        201
    );
    assert_limited(app.post("/v1/reports", &tokens[1], &report).await).await;
    let official = app.official().await;
    let listed: Value = app
        .get("/v1/reports", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["features"].as_array().unwrap().len(), 1);

    // Guessing tokens: after two failures this address is held off for guesses, while a
    // token that works from the same address (a desk behind the same NAT) goes on.
    for _ in 0..2 {
        assert_problem(
            app.get("/v1/residents/me", "sc_guess").await,
            401,
            "unauthenticated",
        )
        .await;
    }
    assert_problem(
        app.get("/v1/residents/me", "sc_guess").await,
        401,
        "unauthenticated",
    )
    .await;
    assert_limited(app.get("/v1/residents/me", "sc_another_guess").await).await;
    assert_eq!(app.get("/v1/residents/me", &tokens[1]).await.status(), 200);
    // Public, unlimited routes stay open.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A request sent with a hand-built request line, so that no client tidies the path.
async fn raw(app: &TestApp, method: &str, path: &str, auth: Option<&str>, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn limits_hold_however_the_path_or_the_header_is_spelled() {
    let app = limited_app().await;
    // Registration: three from this address, whichever spelling of the path.
    let spellings = [
        "/v1/residents",
        "/v1/resid%65nts",
        "/v1/%72esidents",
        "/v1/residents",
    ];
    let mut answers = Vec::new();
    for path in spellings {
        let body = resident_body().to_string();
        answers.push(raw(&app, "POST", path, None, &body).await);
    }
    assert_eq!(
        answers.iter().filter(|s| **s == 201).count(),
        3,
        "{answers:?}"
    );
    assert_eq!(answers[3], 429, "{answers:?}");

    // Verification: the token counts once, however the header spells the scheme.
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, resident) = {
        // Registration from this address is used up: register directly in the database's
        // service, as an official's import would.
        let v = safecode::service::residents::register(
            &app.ctx,
            &serde_json::from_value(resident_body()).unwrap(),
            None,
        )
        .await
        .unwrap();
        (v.resident_id, v.access_token)
    };
    let code: Value = app
        .get("/v1/residents/me/code", &resident)
        .await
        .json()
        .await
        .unwrap();
    let body = json!({"token": code["token"]}).to_string();
    let headers = [
        format!("bearer {staff}"),
        format!("Bearer  {staff}"),
        format!("BEARER {staff}"),
    ];
    let mut answers = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let path = if i == 1 { "/v1/v%65rify" } else { "/v1/verify" };
        answers.push(raw(&app, "POST", path, Some(h), &body).await);
    }
    assert_eq!(answers, vec![200, 200, 429], "two a minute per token");

    // Offline uploads count per token too.
    let shelter: Value = app
        .post(
            "/v1/shelters",
            &app.official().await,
            &json!({"name": "Hall", "location": {"lat": 30.0, "lon": 120.0}, "capacity": 5}),
        )
        .await
        .json()
        .await
        .unwrap();
    let s = shelter["id"].as_str().unwrap();
    let (_, desk) = app.create_user("staff", json!({"shelter_ids": [s]})).await;
    let sync = format!("/v1/shelters/{s}/sync");
    assert_eq!(
        app.post(&sync, &desk, &json!({"events": []}))
            .await
            .status(),
        200
    );
    assert_limited(app.post(&sync, &desk, &json!({"events": []})).await).await;
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    // One of each kind first: an odd method and an unmatched path are a series each.
    raw(&app, "FROB", "/healthz", None, "").await;
    raw(&app, "GET", "/nowhere", None, "").await;
    app.public_text("/metrics").await;
    let before = app.public_text("/metrics").await.len();
    for i in 0..100 {
        raw(&app, &format!("FROB{i}"), "/healthz", None, "").await;
        raw(&app, "GET", &format!("/nowhere/{i}"), None, "").await;
    }
    let after = app.public_text("/metrics").await;
    assert!(after.contains("method=\"OTHER\""), "{after}");
    assert!(!after.contains("FROB") && !after.contains("nowhere"));
    // Only counters and sums change (a few digits each), no new series.
    assert!(
        after.len() < before + 300,
        "{} bytes more after 200 odd requests",
        after.len() - before
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// Streams up to `total` bytes of a part header that never ends, as the holder of `token`,
/// and stops once the server answers: (status, bytes sent by then).
async fn endless_part_header(app: &TestApp, token: &str, total: usize) -> (u16, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://").to_owned();
    let s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let answer = tokio::spawn(async move {
        let mut out = vec![0u8; 4096];
        let n = rd.read(&mut out).await.unwrap_or(0);
        String::from_utf8_lossy(&out[..n]).into_owned()
    });
    let head = format!(
        "POST /v1/reports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    let start = b"--b\r\nContent-Disposition: form-data; name=\"photo\"\r\nX-Pad: ";
    let mut sent = 0;
    let piece = vec![b'a'; 64 * 1024];
    let mut first = true;
    while sent < total && !answer.is_finished() {
        let body: &[u8] = if first { start } else { &piece };
        first = false;
        let chunk = [
            format!("{:x}\r\n", body.len()).into_bytes(),
            body.to_vec(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if wr.write_all(&chunk).await.is_err() {
            break;
        }
        sent += body.len();
    }
    let text = tokio::time::timeout(std::time::Duration::from_secs(10), answer)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, sent)
}

#[tokio::test]
async fn a_part_header_that_never_ends_costs_a_bounded_amount_and_others_go_on() {
    let app = spawn_app().await;
    let (_, resident) = app.registered().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    // Not even a resident's role: refused before the body is read.
    let (status, _) = endless_part_header(&app, &staff, 1 << 20).await;
    assert_eq!(status, 403);
    let before = rss_kib();
    let (status, sent) = endless_part_header(&app, &resident, 200 << 20).await;
    let grew_mib = (rss_kib().saturating_sub(before)) / 1024;
    assert_eq!(status, 413, "sent {sent} bytes");
    assert!(
        sent < 200 << 20,
        "the server stopped reading ({sent} bytes sent)"
    );
    assert!(grew_mib < 64, "the server grew by {grew_mib} MiB");
    // Meanwhile and after, others are served.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_form_of_thousands_of_tiny_parts_is_refused() {
    let app = spawn_app().await;
    let (_, resident) = app.registered().await;
    let mut form = reqwest::multipart::Form::new();
    for i in 0..2000 {
        form = form.text(format!("f{i}"), "x");
    }
    let res = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(&resident)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
}

/// Sends a request head declaring `length` bytes and then `sent` of them, and waits for the
/// answer: (status, seconds it took).
async fn declared(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    length: u64,
    sent: usize,
) -> (u16, f64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    let start = std::time::Instant::now();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b' '; sent]).await.unwrap();
    let mut out = vec![0u8; 2048];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut out))
        .await
        .expect("an answer, not a hang")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&out[..n]);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, start.elapsed().as_secs_f64())
}

#[tokio::test]
async fn every_body_route_refuses_a_declared_length_over_its_bound_before_reading() {
    let app = spawn_app().await;
    let official = app.official().await;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let mut checked = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if !["POST", "PATCH", "PUT"].contains(&method.as_str()) {
                continue;
            }
            let path: String = template
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        if seg == "{version}" {
                            "1".to_owned()
                        } else {
                            id.clone()
                        }
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            // A gigabyte announced, nothing sent: refused at once, whoever asks.
            let (status, secs) = declared(&app, &method, &path, &official, 1 << 30, 0).await;
            assert_eq!(status, 413, "{method} {path}");
            assert!(secs < 2.0, "{method} {path} took {secs} s");
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} body routes");
}

#[tokio::test]
async fn a_body_that_trickles_is_cut_at_its_deadline_and_others_go_on() {
    let (mut settings, dir) = test_settings().await;
    settings.body_deadline_secs = 2;
    let app = spawn_with(settings, dir).await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let official = app.official().await;
    for (path, token) in [
        ("/v1/verify", &staff),
        ("/v1/zones", &official),
        ("/v1/residents", &staff),
    ] {
        let (status, secs) = declared(&app, "POST", path, token, 500, 20).await;
        assert_eq!(status, 408, "{path}");
        assert!((1.5..6.0).contains(&secs), "{path}: {secs} s");
    }
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_whichever_account_they_name() {
    let app = limited_app().await;
    for (i, login) in ["a.one", "b.two", "c.three"].iter().enumerate() {
        let res = app.sign_in(login, "guessing a passphrase", "123456").await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    let res = app
        .sign_in("d.four", "guessing a passphrase", "123456")
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate_limited").await;
    // Enrolment codes are guessed through the same door.
    let res = app
        .client
        .post(app.url("/v1/devices/enrol"))
        .json(&json!({"code": "sc_guess"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 429, "rate_limited").await;
}
