//! Colour figures: `cargo bench --bench colour` (COLOUR_BENCH_RESIDENTS, default 1,000,000).
//!
//! 1. Rule evaluation per core: the default JsonLogic rule set against the same rules written
//!    as a Rust `match`, over the same 1,000,000 sets of facts (already loaded), one thread.
//! 2. On SQLite with that many residents around Xiaoshan: drawing a zone over 10 % of them
//!    (membership), previewing a mandatory order over it, and `GET /v1/zones` with live counts
//!    for 1,000 zones that together cover everyone.

#[path = "common/mod.rs"]
mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safecode::domain::{Flag, Location, Need, OrderLevel};
use safecode::geo::{Area, PointIndex};
use safecode::rules::{Facts, RuleSet, default_by_hand};
use safecode::service::users::{self, Creator, NewUserForm};
use safecode::service::{orders, zones};
use safecode::startup::{self, Application};
use safecode::store;
use serde_json::json;
use std::time::Instant;

fn random_facts(rng: &mut StdRng) -> Facts {
    let mut needs = Vec::new();
    for (n, p) in [
        (Need::Elderly, 0.2),
        (Need::Disabled, 0.03),
        (Need::Medical, 0.02),
        (Need::Pregnant, 0.01),
        (Need::Infant, 0.03),
    ] {
        if rng.random_bool(p) {
            needs.push(n);
        }
    }
    Facts {
        order_level: OrderLevel::from_rank(rng.random_range(0..3)),
        sheltered: rng.random_bool(0.1),
        safe_with_relatives: rng.random_bool(0.05),
        needs,
        flags: if rng.random_bool(0.02) {
            vec![Flag::Injured]
        } else {
            vec![]
        },
        age: Some(rng.random_range(0..100)),
        override_colour: None,
    }
}

fn evaluation(n: usize) {
    let mut rng = StdRng::seed_from_u64(7);
    let facts: Vec<Facts> = (0..n).map(|_| random_facts(&mut rng)).collect();
    let rules = RuleSet::default_set();
    let run = |f: &dyn Fn(&Facts) -> safecode::domain::Colour| {
        let start = Instant::now();
        let mut counts = [0u64; 3];
        for x in &facts {
            counts[f(x) as usize] += 1;
        }
        (start.elapsed().as_secs_f64(), counts)
    };
    // Warm both up, then measure.
    run(&|f| rules.colour_uncached(f));
    run(&|f| default_by_hand(f));
    let (json_secs, json_counts) = run(&|f| rules.colour_uncached(f));
    let (hand_secs, hand_counts) = run(&|f| default_by_hand(f));
    assert_eq!(json_counts, hand_counts, "both say the same");
    // The memo is warm after the first pass: what every later scan pays.
    run(&|f| rules.colour(f));
    let (memo_secs, memo_counts) = run(&|f| rules.colour(f));
    assert_eq!(memo_counts, hand_counts);
    let (full_secs, _) = run(&|f| rules.evaluate(f).colour);
    let rate = |s: f64| n as f64 / s;
    println!("colour evaluation, {n} residents, one core (green/yellow/red = {json_counts:?})");
    println!(
        "  hand-written match          : {:>12.0} residents/s",
        rate(hand_secs)
    );
    println!(
        "  JsonLogic, every condition  : {:>12.0} residents/s   ({:.1} x the match's time; goal >= 1,000,000/s)",
        rate(json_secs),
        json_secs / hand_secs
    );
    println!(
        "  JsonLogic, memo per facts   : {:>12.0} residents/s   ({:.1} x the match's time; goal <= 5 x)",
        rate(memo_secs),
        memo_secs / hand_secs
    );
    println!(
        "  JsonLogic with reasons      : {:>12.0} residents/s",
        rate(full_secs)
    );
}

fn ellipse(lat: f64, lon: f64, b: f64, a: f64, points: usize) -> serde_json::Value {
    let mut ring: Vec<[f64; 2]> = (0..points)
        .map(|i| {
            let t = i as f64 / points as f64 * std::f64::consts::TAU;
            [lon + a * t.cos(), lat + b * t.sin()]
        })
        .collect();
    ring.push(ring[0]);
    json!({"type": "Polygon", "coordinates": [ring]})
}

async fn database(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let ctx = startup::context(&settings).await.unwrap();
    let mut csv = Vec::new();
    safecode::synthetic::write_csv(&mut csv, n, 11).unwrap();
    let started = Instant::now();
    let report =
        safecode::service::import::import_csv(&ctx, None, std::io::Cursor::new(csv), |_| {})
            .await
            .unwrap();
    assert_eq!(report.imported, n);
    println!(
        "\nzones on SQLite, {n} residents (imported in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let form = NewUserForm {
        role: "official".into(),
        name: "bench".into(),
        shelter_ids: vec![],
        jurisdiction: None,
        login: None,
    };
    let token = users::create(&ctx, Creator::Operator, &form)
        .await
        .unwrap()
        .token
        .expect("a machine account gets a token");
    let official = users::authenticate(&ctx, &token, safecode::store::users::Carrier::Header)
        .await
        .unwrap();

    // Synthetic residents are spread evenly over lat 30.05–30.35, lon 120.15–120.55
    // (0.12 square degrees): an ellipse of 0.012 holds about 10 % of them.
    let (b, a) = (0.0536, 0.0713);
    let feature = zones::ZoneFeature {
        kind: "Feature".into(),
        properties: json!({"name": "10 percent"}),
        geometry: ellipse(30.2, 120.35, b, a, 256),
    };
    let started = Instant::now();
    let zone = zones::create(&ctx, &official, &feature).await.unwrap();
    let membership = started.elapsed().as_secs_f64();
    println!(
        "  zone membership, {} of {n} inside      : {membership:6.2} s   (goal <= 5 s)",
        zone.residents
    );

    let started = Instant::now();
    let preview = orders::preview(&ctx, &official, zone.id, OrderLevel::Mandatory)
        .await
        .unwrap();
    let preview_secs = started.elapsed().as_secs_f64();
    println!(
        "  order preview for that zone            : {preview_secs:6.2} s   (goal <= 1 s; to_red {})",
        preview.to_red
    );
    orders::issue(
        &ctx,
        &official,
        zone.id,
        &orders::OrderForm {
            level: OrderLevel::Mandatory,
            reason: "bench".into(),
            expires_at: None,
            incident_id: None,
        },
        None,
    )
    .await
    .unwrap();

    // 1,000 grid cells covering everyone: memberships computed in one pass for the setup.
    let mut tx = ctx.db.begin().await.unwrap();
    let everywhere = store::zones::Bbox {
        min_lon: -180.0,
        min_lat: -90.0,
        max_lon: 180.0,
        max_lat: 90.0,
    };
    let points = store::zones::located_in(&mut tx, &everywhere, 0, i64::MAX)
        .await
        .unwrap();
    let facts: std::collections::HashMap<i64, i32> = points
        .iter()
        .map(|r| {
            (
                r.id,
                safecode::domain::resident::pack_facts(&r.needs.0, &r.flags.0),
            )
        })
        .collect();
    let index = PointIndex::new(
        points
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    Location {
                        lat: r.lat,
                        lon: r.lon,
                    },
                )
            })
            .collect(),
    );
    let now = chrono::Utc::now();
    for i in 0..40 {
        for j in 0..25 {
            let (lon0, lat0) = (120.15 + i as f64 * 0.01, 30.05 + j as f64 * 0.012);
            let (lon1, lat1) = (lon0 + 0.01, lat0 + 0.012);
            let geometry = json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]});
            let area = Area::from_geometry(&geometry).unwrap();
            let bbox = store::zones::Bbox {
                min_lon: lon0,
                min_lat: lat0,
                max_lon: lon1,
                max_lat: lat1,
            };
            let id = store::zones::insert(
                &mut tx,
                uuid::Uuid::new_v4(),
                &format!("cell {i}-{j}"),
                &geometry,
                &bbox,
                5,
                "bench",
                now,
            )
            .await
            .unwrap();
            let pairs: Vec<(i64, i64, i32)> = index
                .members(&area)
                .into_iter()
                .map(|r| (id, r, facts[&r]))
                .collect();
            store::zones::add_members(&mut tx, &pairs).await.unwrap();
        }
    }
    tx.commit().await.unwrap();

    let started = Instant::now();
    let listed = zones::list(&ctx, &official, true).await.unwrap();
    println!(
        "  zones::list in-process, {} zones       : {:6.2} s",
        listed.features.len(),
        started.elapsed().as_secs_f64()
    );
    let app = Application::build(&settings).await.unwrap();
    let url = format!("http://127.0.0.1:{}/v1/zones", app.port());
    tokio::spawn(app.run_until_stopped());
    safecode::outbound::install_crypto();
    let client = reqwest::Client::new();
    let get = || async {
        let started = Instant::now();
        let res = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "GET /v1/zones after {:.1} s: {e:?}",
                    started.elapsed().as_secs_f64()
                )
            });
        assert!(res.status().is_success());
        let body: serde_json::Value = res.json().await.unwrap();
        (started.elapsed().as_secs_f64(), body)
    };
    get().await;
    let (secs, body) = get().await;
    let features = body["features"].as_array().unwrap();
    let total: i64 = features
        .iter()
        .map(|f| f["properties"]["residents"].as_i64().unwrap())
        .sum();
    let red: i64 = features
        .iter()
        .map(|f| f["properties"]["red"].as_i64().unwrap())
        .sum();
    println!(
        "  GET /v1/zones, {} zones, {total} memberships ({red} red): {secs:6.2} s   (goal <= 2 s)",
        features.len()
    );
}

fn main() {
    let n: u64 = std::env::var("COLOUR_BENCH_RESIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    evaluation(n as usize);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(database(n));
}
