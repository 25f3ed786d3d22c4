//! HTTPS figures: `cargo bench --bench https_fetch` (HTTPS_BENCH_FETCHES, default 200).
//!
//! The verifier bundle fetched from a release server on loopback, over plain HTTP and over
//! HTTPS (rustls, ring, a certificate from a test CA), each fetch on a new connection as a
//! shelter tablet waking up would make it, then the same over one kept-alive connection. The
//! difference between the two new-connection figures is the TLS handshake's cost; the kept
//! alive ones show what TLS costs once connected. 1,000 residents, so the bundle is small and
//! the handshake is not hidden behind the transfer.

#[path = "common/mod.rs"]
mod common;

use safecode::startup::Application;
use std::time::Instant;

fn pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// A server on the bench's database: its port, and the first admin's token when this start
/// made one.
async fn server(settings: &safecode::config::Settings) -> (u16, Option<String>) {
    let app = Application::build(settings).await.unwrap();
    let port = app.port();
    let admin = app.bootstrap_admin_token.clone();
    tokio::spawn(app.run_until_stopped());
    (port, admin)
}

/// Mean milliseconds per fetch of `n`; on a new connection each time when `fresh` (one client
/// that keeps no idle connection, so the client's own set-up is not counted).
async fn fetches(base: &str, token: &str, n: usize, fresh: bool, ca: Option<&str>) -> f64 {
    let mut b = reqwest::Client::builder().pool_max_idle_per_host(if fresh { 0 } else { 1 });
    if let Some(pem) = ca {
        b = b.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()]);
    }
    let client = b.build().unwrap();
    let url = format!("{base}/v1/verifier/bundle");
    let start = Instant::now();
    for _ in 0..n {
        let res = client.get(&url).bearer_auth(token).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        std::hint::black_box(res.bytes().await.unwrap());
    }
    start.elapsed().as_secs_f64() * 1000.0 / n as f64
}

/// The median of five rounds, the two protocols alternating within each round (the machine is
/// shared: load drifts between rounds, not within one).
async fn rounds(
    plain: &str,
    tls: &str,
    token: &str,
    ca: &str,
    n: usize,
    fresh: bool,
) -> (f64, f64) {
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        p.push(fetches(plain, token, n, fresh, None).await);
        t.push(fetches(tls, token, n, fresh, Some(ca)).await);
    }
    p.sort_by(f64::total_cmp);
    t.sort_by(f64::total_cmp);
    (p[2], t[2])
}

async fn run(n: usize) {
    safecode::outbound::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::sqlite_settings(dir.path());
    let ctx = safecode::startup::context(&settings).await.unwrap();
    let mut csv = Vec::new();
    safecode::synthetic::write_csv(&mut csv, 1000, 3).unwrap();
    safecode::service::import::import_csv(&ctx, None, std::io::Cursor::new(csv), |_| {})
        .await
        .unwrap();
    let (plain_port, admin) = server(&settings).await;
    let client = reqwest::Client::new();
    let staff: serde_json::Value = client
        .post(format!("http://127.0.0.1:{plain_port}/v1/users"))
        .bearer_auth(admin.expect("the first start makes an admin"))
        .json(&serde_json::json!({"role": "staff", "name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let staff = staff["token"].as_str().unwrap().to_owned();

    let (ca, cert, key) = pki();
    let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    settings.tls = Some(safecode::config::TlsSettings { cert: c, key: k });
    let (tls_port, _) = server(&settings).await;
    let plain = format!("http://127.0.0.1:{plain_port}");
    let tls = format!("https://127.0.0.1:{tls_port}");
    // Warm both (status list built, pages cached).
    fetches(&plain, &staff, 5, true, None).await;
    fetches(&tls, &staff, 5, true, Some(&ca)).await;

    let (plain_new, tls_new) = rounds(&plain, &tls, &staff, &ca, n, true).await;
    let (plain_kept, tls_kept) = rounds(&plain, &tls, &staff, &ca, n, false).await;
    println!(
        "verifier bundle fetch on loopback, 1,000 residents, median of 5 rounds of {n} (release)"
    );
    println!("  new connection, http  : {plain_new:7.3} ms");
    println!(
        "  new connection, https : {tls_new:7.3} ms   ({:.2} x; handshake about {:.3} ms)",
        tls_new / plain_new,
        tls_new - plain_new
    );
    println!("  kept alive, http      : {plain_kept:7.3} ms");
    println!(
        "  kept alive, https     : {tls_kept:7.3} ms   ({:.2} x)",
        tls_kept / plain_kept
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("HTTPS_BENCH_FETCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}
