//! Scanned facts kept by a server (issue 22, verify on PostgreSQL: `service::fresh_facts`)
//! never outlive the second a colour may be old: a change made anywhere else — another server,
//! an operator's statement, an order running out — shows at this server's next scans. On
//! SQLite nothing is kept and the same must hold.

use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};

async fn metric(app: &TestApp, name: &str) -> Option<i64> {
    let text = app.public_text("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// The colour a scan shows now, or why the code is not valid.
async fn scan(app: &TestApp, staff: &str, code: &str) -> String {
    let v = json_ok(app.post("/v1/verify", staff, &json!({"token": code})).await).await;
    match v["current_colour"].as_str() {
        Some(colour) => colour.to_owned(),
        None => {
            assert_eq!(v["valid"], false, "{v}");
            v["error"].as_str().unwrap_or_default().to_owned()
        }
    }
}

/// Scans until they are answered from kept facts (PostgreSQL), so what follows tests a kept
/// fact being dropped, not a first read.
async fn answered_from_kept_facts(app: &TestApp, staff: &str, code: &str, expect: &str) {
    let Some(before) = metric(app, "fresh_facts_hits_total").await else {
        assert!(!app.is_postgres(), "PostgreSQL keeps scanned facts");
        assert_eq!(scan(app, staff, code).await, expect);
        return;
    };
    let start = Instant::now();
    loop {
        assert_eq!(scan(app, staff, code).await, expect);
        if metric(app, "fresh_facts_hits_total").await.unwrap() > before {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "scans never answered from kept facts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scans every 20 ms until the colour is `expect`, at most a second after `since`, and it stays
/// so (a kept fact left behind would show again at the next scans).
async fn within_a_second(app: &TestApp, staff: &str, code: &str, expect: &str, since: Instant) {
    loop {
        let now = scan(app, staff, code).await;
        if now == expect {
            for _ in 0..15 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_eq!(scan(app, staff, code).await, expect, "changed back");
            }
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "still {now} a second after the change (expected {expect})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn changes_made_elsewhere_show_at_the_next_scans_within_a_second() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let zone = app.square_zone(&official, "riverside").await;
    let (inside, token) = resident_at(&app, 30.05, 120.05, &[]).await;
    let code = code_of(&app, &token).await;
    answered_from_kept_facts(&app, &staff, &code, "green").await;

    // An order issued by another server process: one announcement for everyone.
    let other = ServeProcess::start(&app).await;
    let r = app
        .client
        .post(other.url(&format!("/v1/zones/{zone}/orders")))
        .bearer_auth(&official)
        .json(&json!({"level": "mandatory", "reason": "the levee is failing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    within_a_second(&app, &staff, &code, "red", Instant::now()).await;
    answered_from_kept_facts(&app, &staff, &code, "red").await;

    // The order runs out (an operator sets its end a second from now): kept facts hold only
    // until the next expiry, so the scans turn green again without any announcement then.
    let in_two_seconds = if app.is_postgres() {
        "CURRENT_TIMESTAMP + INTERVAL '2 seconds'"
    } else {
        // As sqlx writes a time on SQLite (RFC 3339 text), which the query compares as text.
        "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '+2 seconds')"
    };
    app.exec_sql(&format!(
        "UPDATE orders SET expires_at = {in_two_seconds} WHERE lifted_at IS NULL"
    ))
    .await;
    let set = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    answered_from_kept_facts(&app, &staff, &code, "red").await;
    within_a_second(&app, &staff, &code, "green", set + Duration::from_secs(2)).await;

    // A change through this server is seen by its very next scan, not a moment later.
    answered_from_kept_facts(&app, &staff, &code, "green").await;
    let r = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "the second wave"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(scan(&app, &staff, &code).await, "red");
    let order: serde_json::Value = r.json().await.unwrap();
    let lifted = app
        .post(
            &format!("/v1/orders/{}/lift", order["id"].as_str().unwrap()),
            &official,
            &json!({}),
        )
        .await;
    assert_eq!(lifted.status(), 200, "{:?}", lifted.text().await);
    assert_eq!(scan(&app, &staff, &code).await, "green");

    // One resident's record changed by a statement (not through this server): named in the
    // announcement, dropped at once.
    answered_from_kept_facts(&app, &staff, &code, "green").await;
    let public_id = uuid::Uuid::parse_str(&inside).unwrap();
    let which = if app.is_postgres() {
        format!("'{public_id}'")
    } else {
        format!("X'{}'", public_id.simple())
    };
    app.exec_sql(&format!(
        "UPDATE residents SET standing = 'retired' WHERE public_id = {which}"
    ))
    .await;
    within_a_second(&app, &staff, &code, "unknown_resident", Instant::now()).await;
    other.kill();
}
