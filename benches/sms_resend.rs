//! SMS resend figures: `cargo bench --bench sms_resend` (SMS_BENCH_RESIDENTS, default 100,000).
//!
//! An alert to a zone of that many residents, none of whom acknowledged, is sent again by SMS
//! through the JSON gateway adapter to a real local HTTP receiver (in this process, on
//! loopback), until every message is accepted: parts cut, one-tap links made and stored, each
//! part recorded under the gateway's id, rows marked sent. Baseline in the same run: the
//! resend call alone, which is the outbox insert (one `INSERT … SELECT`).

#[path = "common/mod.rs"]
mod common;

use actix_web::{App, HttpResponse, HttpServer, web};
use safecode::domain::alert::AlertForm;
use safecode::service::alerts;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const SECRET: &str = "a-receipt-secret-of-at-least-32-chars";

/// The gateway: accepts every message with a fresh id, as fast as it can.
fn receiver() -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let server = HttpServer::new(move || {
        let c = c.clone();
        App::new().route(
            "/sms",
            web::post().to(move |_: web::Bytes| {
                let n = c.fetch_add(1, Ordering::Relaxed) + 1;
                async move { HttpResponse::Ok().json(serde_json::json!({"message_id": n})) }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/sms"), count)
}

async fn run(n: u64) {
    safecode::outbound::install_crypto();
    let (url, accepted) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::sqlite_settings(dir.path());
    settings.outbound.plain_http = safecode::outbound::PlainHttp::Loopback;
    settings.alerting.public_url = Some("https://safecode.example".into());
    let gw = safecode::config::SmsGateway {
        url,
        from: "safecode".into(),
        format: safecode::config::SmsFormat::Json {
            template: serde_json::json!({"to": "{to}", "text": "{text}", "ref": "{ref}"}),
            id_pointer: "/message_id".into(),
            token: None,
            receipt_secret: SECRET.into(),
        },
    };
    settings.alerting.sms = Some(gw.clone());
    let ctx = safecode::startup::context(&settings).await.unwrap();
    let (official, zone) = common::zone_of_synthetic_residents(&ctx, n).await;
    let form: AlertForm = serde_json::from_value(serde_json::json!({
        "zones": [zone.id], "headline": "Levee breach", "event": "Flood", "language": "en",
        "description": "Water rising.", "instruction": "Go to the school now.",
        "response_type": "Evacuate", "urgency": "Immediate", "severity": "Extreme",
        "certainty": "Observed"}))
    .unwrap();
    let sent = alerts::send(&ctx, &official, &form, None).await.unwrap();
    assert_eq!(sent.recipients as u64, n);

    let start = Instant::now();
    let resent = alerts::resend(
        &ctx,
        &official,
        sent.id,
        &serde_json::from_value(serde_json::json!({"channels": ["sms"]})).unwrap(),
    )
    .await
    .unwrap();
    let insert = start.elapsed().as_secs_f64();
    assert_eq!(resent.queued["sms"], n);

    let client = ctx
        .outbound
        .client(std::time::Duration::from_secs(15))
        .unwrap();
    let start = Instant::now();
    let mut sent_total = 0;
    loop {
        let r = alerts::sms::deliver_due(&ctx, &client, &gw).await.unwrap();
        assert_eq!(r.failed, 0);
        if r.sent == 0 {
            break;
        }
        sent_total += r.sent;
    }
    let send = start.elapsed().as_secs_f64();
    assert_eq!(sent_total as u64, n);
    assert_eq!(
        accepted.load(Ordering::Relaxed),
        n,
        "one part each, each once"
    );
    println!("SMS resend to {n} pending recipients through the JSON gateway adapter (SQLite)");
    println!("  outbox insert alone (the resend call)  : {insert:7.2} s");
    println!(
        "  handed to the gateway, every message   : {send:7.2} s   ({:.0} messages/s)",
        n as f64 / send
    );
    println!(
        "  total, resend to last message accepted : {:7.2} s   ({:.1} x the insert alone)",
        insert + send,
        (insert + send) / insert
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("SMS_BENCH_RESIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}
