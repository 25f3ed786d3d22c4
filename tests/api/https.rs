//! HTTPS in and out: safecode answering HTTPS itself (a renewed certificate taken without a
//! restart), and its outbound requests (webhook, bundle fetch) trusting a province's CA given
//! in a file and refusing a certificate nobody vouches for, or plain HTTP.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A CA of the test's own and a certificate it signs for 127.0.0.1 and localhost.
pub(crate) struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub(crate) fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{name} server"));
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

pub(crate) fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A client that trusts only `ca_pem`.
fn trusting(ca_pem: &str) -> reqwest::Client {
    safecode::outbound::install_crypto();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// A webhook receiver on HTTPS with `p`'s certificate: what it was sent.
async fn https_receiver(p: &Pki, dir: &std::path::Path) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let files = safecode::config::TlsSettings {
        cert: write(dir, "receiver-cert.pem", &p.cert_pem),
        key: write(dir, "receiver-key.pem", &p.key_pem),
    };
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let s2 = seen.clone();
    let server = HttpServer::new(move || {
        let seen = s2.clone();
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Bytes| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(body.to_vec());
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind_rustls_0_23(
        "127.0.0.1:0",
        safecode::http::tls::server_config(&files).unwrap(),
    )
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("https://127.0.0.1:{port}/hook"), seen)
}

/// An alert resent through the webhook to two pending residents.
async fn resend_through_webhook(app: &TestApp) {
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    resident_at(app, 30.05, 120.05, &[]).await;
    let sent = json_ok(
        app.post("/v1/alerts", &official, &alert_form(json!([zone])))
            .await,
    )
    .await;
    let res = json_ok(
        app.post(
            &format!("/v1/alerts/{}/resend", sent["id"].as_str().unwrap()),
            &official,
            &json!({"channels": ["webhook"]}),
        )
        .await,
    )
    .await;
    assert_eq!(res["queued"], json!({"webhook": 1}), "{res}");
}

fn webhook(url: String) -> Option<safecode::config::WebhookSettings> {
    Some(safecode::config::WebhookSettings {
        url,
        secret: "a-test-secret-of-at-least-32-characters".into(),
        retry_base_ms: 50,
    })
}

#[tokio::test]
async fn webhooks_go_over_https_to_a_receiver_the_extra_ca_vouches_for_and_no_other() {
    let province = pki("province");
    let tmp = tempfile::tempdir().unwrap();
    let (url, seen) = https_receiver(&province, tmp.path()).await;

    // Without the province's CA the receiver's certificate is refused: nothing arrives.
    let (mut settings, dir) = test_settings().await;
    settings.alerting.webhook = webhook(url.clone());
    let stranger = spawn_with(settings, dir).await;
    resend_through_webhook(&stranger).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "an unvouched certificate got the message"
    );
    // With it, the message arrives over TLS.
    let (mut settings, dir) = test_settings().await;
    settings.outbound.extra_ca = Some(write(tmp.path(), "province-ca.pem", &province.ca_pem));
    settings.alerting.webhook = webhook(url);
    let trusted = spawn_with(settings, dir).await;
    resend_through_webhook(&trusted).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing arrived over HTTPS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body: Value = serde_json::from_slice(&seen.lock().unwrap()[0]).unwrap();
    assert_eq!(body["type"], "alert.pending");
}

#[tokio::test]
async fn plain_http_out_is_refused_unless_to_loopback_when_allowed() {
    let (mut settings, dir) = test_settings().await;
    settings.alerting.webhook = webhook("http://127.0.0.1:9/hook".into());
    // The start goes on (alerts still work); the webhook channel stays idle, saying why.
    let app = spawn_with(settings, dir).await;
    assert!(app.ctx.outbound.check("http://127.0.0.1:9/hook").is_err());
    let mut allowed = app.settings.outbound.clone();
    allowed.plain_http = safecode::outbound::PlainHttp::Loopback;
    let o = safecode::outbound::Outbound::new(&allowed).unwrap();
    assert!(o.check("http://127.0.0.1:9/hook").is_ok());
    assert!(o.check("http://10.0.0.5/hook").is_err());
}

#[tokio::test]
async fn safecode_serves_https_with_hsts_and_takes_a_renewed_certificate_without_a_restart() {
    let first = pki("first");
    let (mut settings, dir) = test_settings().await;
    let cert = write(dir.path(), "cert.pem", &first.cert_pem);
    let key = write(dir.path(), "key.pem", &first.key_pem);
    settings.tls = Some(safecode::config::TlsSettings {
        cert: cert.clone(),
        key: key.clone(),
    });
    let app = safecode::startup::Application::build(&settings)
        .await
        .expect("an HTTPS server");
    let url = format!("https://127.0.0.1:{}/healthz", app.port());
    tokio::spawn(app.run_until_stopped());

    let res = trusting(&first.ca_pem).get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Plain HTTP on the HTTPS port gets no answer a browser would take.
    assert!(
        reqwest::get(url.replace("https://", "http://"))
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
    );

    // A renewal (another CA, to tell them apart) is written over the files: new connections
    // get it within seconds, and the old chain is no longer served.
    let second = pki("second");
    std::fs::write(&key, &second.key_pem).unwrap();
    std::fs::write(&cert, &second.cert_pem).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if trusting(&second.ca_pem).get(&url).send().await.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate was not taken"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let old = trusting(&first.ca_pem).get(&url).send().await;
    let err = old.expect_err("the old certificate is gone");
    assert!(
        safecode::outbound::cause(&err).contains("certificate"),
        "{}",
        safecode::outbound::cause(&err)
    );

    // A half-written renewal (a key that does not match) keeps the working certificate.
    std::fs::write(&key, &first.key_pem).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let res = trusting(&second.ca_pem).get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_start_with_a_key_that_does_not_match_its_certificate_stops_naming_the_files() {
    let a = pki("a");
    let b = pki("b");
    let (mut settings, dir) = test_settings().await;
    settings.tls = Some(safecode::config::TlsSettings {
        cert: write(dir.path(), "cert.pem", &a.cert_pem),
        key: write(dir.path(), "key.pem", &b.key_pem),
    });
    let err = safecode::startup::Application::build(&settings)
        .await
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.starts_with("HTTPS:") && msg.contains("cert.pem"),
        "{msg}"
    );
}

#[tokio::test]
async fn the_bundle_is_fetched_over_https_with_the_extra_ca_and_refused_without_it() {
    let p = pki("district");
    let (mut settings, dir) = test_settings().await;
    settings.tls = Some(safecode::config::TlsSettings {
        cert: write(dir.path(), "cert.pem", &p.cert_pem),
        key: write(dir.path(), "key.pem", &p.key_pem),
    });
    let built = safecode::startup::Application::build(&settings)
        .await
        .unwrap();
    let server = format!("https://127.0.0.1:{}", built.port());
    let admin = built.bootstrap_admin_token.clone().unwrap();
    tokio::spawn(built.run_until_stopped());
    let staff = json_ok(
        trusting(&p.ca_pem)
            .post(format!("{server}/v1/users"))
            .bearer_auth(&admin)
            .json(&json!({"role": "staff", "name": "Desk"}))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca = write(dir.path(), "ca.pem", &p.ca_pem);
    let out = dir.path().join("bundle.json");
    // Run off the test's thread: the server's background tasks share its runtime.
    let fetch = |extra: Vec<String>| {
        let (server, staff, out) = (server.clone(), staff.clone(), out.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(TestApp::binary())
                .args([
                    "bundle", "fetch", "--server", &server, "--token", &staff, "--out",
                ])
                .arg(&out)
                .args(extra)
                .env_remove("SAFECODE_EXTRA_CA_FILE")
                .env_remove("SAFECODE_ALLOW_PLAIN_HTTP")
                .output()
                .unwrap()
        })
    };
    let refused = fetch(vec![]).await.unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("certificate"), "a clear TLS error: {err}");
    assert!(!out.exists());
    let ok = fetch(vec!["--extra-ca".into(), ca.to_str().unwrap().into()])
        .await
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.exists());
    // Plain HTTP is refused before anything is sent.
    let plain = std::process::Command::new(TestApp::binary())
        .args([
            "bundle",
            "fetch",
            "--server",
            "http://10.0.0.5:8080",
            "--token",
            "x",
            "--out",
        ])
        .arg(dir.path().join("never.json"))
        .env_remove("SAFECODE_ALLOW_PLAIN_HTTP")
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("plain http://"));
}
