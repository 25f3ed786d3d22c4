//! Crash safety: `safecode serve` killed with SIGKILL in the middle of a large import, a storm
//! of admissions and a status list rebuild, then started again on the same database. Every
//! request answered with success is there, nothing is half-written (every imported resident
//! has their zone membership and is counted in an audit entry; every open stay is counted in
//! its shelter's occupancy), and the audit chain verifies.

use crate::helpers::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Synthetic residents (`dev gen-residents`) live inside this rectangle.
fn everywhere() -> Value {
    json!({"type": "Feature", "properties": {"name": "Xiaoshan"},
           "geometry": {"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.7, 30.5)]}})
}

/// Residents counted by the audit chain's import entries.
async fn imported_by_audit(client: &reqwest::Client, base: &str, official: &str) -> u64 {
    let mut total = 0;
    let mut after = 0;
    loop {
        let page = json_ok(
            client
                .get(format!(
                    "{base}/v1/audit?action=residents.import&limit=1000&after_seq={after}"
                ))
                .bearer_auth(official)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let entries = page.as_array().unwrap();
        if entries.is_empty() {
            return total;
        }
        for e in entries {
            total += e["after"]["imported"].as_u64().unwrap();
            after = after.max(e["seq"].as_i64().unwrap());
        }
    }
}

async fn zone_residents(client: &reqwest::Client, base: &str, official: &str) -> u64 {
    let zones = json_ok(
        client
            .get(format!("{base}/v1/zones"))
            .bearer_auth(official)
            .send()
            .await
            .unwrap(),
    )
    .await;
    zones["features"][0]["properties"]["residents"]
        .as_u64()
        .unwrap()
}

async fn chain_verifies(client: &reqwest::Client, base: &str, official: &str) {
    let v = json_ok(
        client
            .get(format!("{base}/v1/audit/verify"))
            .bearer_auth(official)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["ok"], true, "the audit chain after a kill: {v}");
}

#[tokio::test]
async fn a_killed_server_keeps_what_it_answered_and_leaves_nothing_half_written() {
    let rows: u64 = std::env::var("CRASH_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let app = spawn_app().await;
    let official = app.official().await;
    app.zone(&official, &everywhere()).await;
    let csv = app.dir.path().join("residents.csv");
    let out = std::process::Command::new(TestApp::binary())
        .args([
            "dev",
            "gen-residents",
            "--count",
            &rows.to_string(),
            "--out",
        ])
        .arg(&csv)
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    // No kept-alive connections: the server on the other end is killed and started again.
    safecode::outbound::install_crypto();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let env = [("SAFECODE_STATUS_LIST_DEBOUNCE_SECS", "1")];

    // (a) Killed in the middle of an import streamed over HTTP.
    let server = ServeProcess::start_with(&app, "127.0.0.1:0", &env).await;
    let bind = server.address.trim_start_matches("http://").to_owned();
    let base = server.address.clone();
    let upload = {
        let body = tokio::fs::read(&csv).await.unwrap();
        let request = client
            .post(format!("{base}/v1/residents/import"))
            .bearer_auth(&official)
            .header("Content-Type", "text/csv")
            .body(body);
        tokio::spawn(async move { request.send().await })
    };
    // Wait until some batches are in, then pull the plug.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while imported_by_audit(&client, &base, &official).await == 0 {
        assert!(std::time::Instant::now() < deadline, "no batch committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    let answered = upload.await.unwrap();
    assert!(
        answered.is_err() || !answered.unwrap().status().is_success(),
        "the import was cut off before its answer"
    );
    let server = ServeProcess::start_with(&app, &bind, &env).await;
    let counted = imported_by_audit(&client, &base, &official).await;
    let placed = zone_residents(&client, &base, &official).await;
    assert!(
        counted > 0 && counted < rows,
        "killed mid-way: {counted} of {rows}"
    );
    assert_eq!(
        placed, counted,
        "every committed resident has its membership and audit entry"
    );
    chain_verifies(&client, &base, &official).await;
    // The same file again completes it: nothing twice, nothing missing.
    let report = json_ok(
        client
            .post(format!("{base}/v1/residents/import"))
            .bearer_auth(&official)
            .header("Content-Type", "text/csv")
            .body(tokio::fs::read(&csv).await.unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        report["imported"].as_u64().unwrap(),
        rows - counted,
        "{report}"
    );
    assert_eq!(report["already_registered"].as_u64().unwrap(), counted);
    assert_eq!(zone_residents(&client, &base, &official).await, rows);

    // (b) Killed in a storm of admissions.
    let shelter = json_ok(
        client
            .post(format!("{base}/v1/shelters"))
            .bearer_auth(&official)
            .json(&json!({"name": "Gym", "location": {"lat": 30.2, "lon": 120.3}, "capacity": 100000}))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter]}))
        .await;
    let codes_file = app.dir.path().join("codes.txt");
    let out = std::process::Command::new(TestApp::binary())
        .args(["dev", "issue-codes", "--count", "2000", "--out"])
        .arg(&codes_file)
        .env("DATABASE_URL", app.settings.database_url.as_str())
        .env("SAFECODE_KEYS_DIR", &app.settings.keys_dir)
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes: Vec<String> = std::fs::read_to_string(&codes_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let storm = {
        let (client, base, staff, shelter, done) = (
            client.clone(),
            base.clone(),
            staff.clone(),
            shelter.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            futures_util::stream::iter(codes)
                .map(|code| {
                    let (client, base, staff, shelter, done) = (
                        client.clone(),
                        base.clone(),
                        staff.clone(),
                        shelter.clone(),
                        done.clone(),
                    );
                    async move {
                        let res = client
                            .post(format!("{base}/v1/shelters/{shelter}/checkins"))
                            .bearer_auth(&staff)
                            .json(&json!({"token": code}))
                            .send()
                            .await;
                        let stay = match res {
                            Ok(r) if r.status() == 201 => {
                                r.json::<Value>().await.ok().map(|v| v["stay_id"].clone())
                            }
                            _ => None,
                        };
                        done.fetch_add(1, Ordering::SeqCst);
                        stay
                    }
                })
                .buffer_unordered(32)
                .collect::<Vec<_>>()
                .await
        })
    };
    while done.load(Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let admitted: Vec<Value> = storm.await.unwrap().into_iter().flatten().collect();
    assert!(
        admitted.len() >= 250,
        "the storm was under way: {}",
        admitted.len()
    );
    let server = ServeProcess::start_with(&app, &bind, &env).await;
    let mut present = std::collections::HashSet::new();
    let mut after = None::<i64>;
    loop {
        let q = after.map(|a| format!("?after={a}")).unwrap_or_default();
        let page = json_ok(
            client
                .get(format!("{base}/v1/shelters/{shelter}/occupants{q}"))
                .bearer_auth(&official)
                .send()
                .await
                .unwrap(),
        )
        .await;
        for o in page["occupants"].as_array().unwrap() {
            present.insert(o["stay_id"].clone());
        }
        match page["next"].as_i64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    for stay in &admitted {
        assert!(
            present.contains(stay),
            "an answered admission was lost: {stay}"
        );
    }
    let view = json_ok(
        client
            .get(format!("{base}/v1/shelters/{shelter}"))
            .bearer_auth(&official)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        view["occupancy"].as_u64().unwrap() as usize,
        present.len(),
        "every open stay is counted in the occupancy, and nothing else"
    );
    chain_verifies(&client, &base, &official).await;

    // (c) Killed while rebuilding the status list: the list served after is whole and signed.
    let zone_id = json_ok(
        client
            .get(format!("{base}/v1/zones"))
            .bearer_auth(&official)
            .send()
            .await
            .unwrap(),
    )
    .await["features"][0]["properties"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut server = server;
    for round in 0..3u64 {
        let level = if round % 2 == 0 {
            "mandatory"
        } else {
            "advisory"
        };
        json_ok(
            client
                .post(format!("{base}/v1/zones/{zone_id}/orders"))
                .bearer_auth(&official)
                .json(&json!({"level": level, "reason": format!("round {round}")}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        // The rebuild starts within the debounce second; kill somewhere in it.
        tokio::time::sleep(Duration::from_millis(900 + 250 * round)).await;
        server.kill();
        server = ServeProcess::start_with(&app, &bind, &env).await;
        let list = client
            .get(format!("{base}/v1/status-list"))
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), 200);
        let bytes = list.bytes().await.unwrap();
        let jwks: Value =
            json_ok(client.get(format!("{base}/v1/keys")).send().await.unwrap()).await;
        let keys = safecode::token::known_from_jwks(&jwks).unwrap();
        let decoded = safecode::token::status_list::verify(
            &bytes,
            |kid| {
                keys.iter()
                    .filter(|k| safecode::token::Kid::of(&k.key) == *kid)
                    .collect()
            },
            chrono::Utc::now().timestamp(),
        );
        assert!(decoded.is_ok(), "round {round}: {decoded:?}");
        chain_verifies(&client, &base, &official).await;
    }
    drop(server);
}
