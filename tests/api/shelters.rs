//! Shelters and relief end to end: admit by scanning, limits under concurrency (also through
//! two servers on one database), check-out, occupants, quotas, the day's report.

use crate::helpers::*;
use futures_util::future::join_all;
use serde_json::{Value, json};

async fn shelter(
    app: &TestApp,
    official: &str,
    name: &str,
    lat: f64,
    lon: f64,
    cap: i64,
) -> String {
    let res = app
        .post(
            "/v1/shelters",
            official,
            &json!({"name": name, "location": {"lat": lat, "lon": lon}, "capacity": cap,
                    "accessibility": ["wheelchair"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A registered resident's current code.
async fn codes(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (_, t) = app.registered().await;
        out.push(code_of(app, &t).await);
    }
    out
}

async fn checkin(app: &TestApp, staff: &str, shelter: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/v1/shelters/{shelter}/checkins"), staff, &body)
        .await
}

async fn shelter_view(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/v1/shelters/{id}"), token)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn officials_open_shelters_and_anyone_finds_the_nearest_with_room() {
    let app = spawn_app().await;
    let official = app.official().await;
    let far = shelter(&app, &official, "萧山体育中心", 30.16, 120.27, 500).await;
    let near = shelter(&app, &official, "益农镇中心小学", 30.24, 120.40, 2).await;
    let (_, resident) = app.registered().await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [near]}))
        .await;

    assert_problem(
        app.post(
            "/v1/shelters",
            &staff,
            &json!({"name": "x", "location": {"lat": 30.0, "lon": 120.0}, "capacity": 1}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "x", "location": {"lat": 30.0, "lon": 120.0}, "capacity": -5}),
        )
        .await,
        422,
        "invalid_capacity",
    )
    .await;

    let list: Value = app
        .get("/v1/shelters?lat=30.25&lon=120.41", &resident)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [near.as_str(), far.as_str()], "nearest first");
    assert!(list[0]["distance_km"].as_f64().unwrap() < 2.0);
    assert_eq!(list[0]["free"], 2);
    assert_eq!(list[0]["status"], "open");
    let close: Value = app
        .get("/v1/shelters?lat=30.25&lon=120.41&within_km=5", &resident)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(close.as_array().unwrap().len(), 1);
    assert_problem(
        app.get("/v1/shelters?lat=30.25", &resident).await,
        422,
        "invalid_location",
    )
    .await;
}

#[tokio::test]
async fn eight_scans_at_a_shelter_for_three_admit_exactly_three() {
    let app = spawn_app().await;
    let official = app.official().await;
    let small = shelter(&app, &official, "村委会", 30.2, 120.3, 3).await;
    let other = shelter(&app, &official, "中学", 30.21, 120.31, 100).await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [small]}))
        .await;
    let tokens = codes(&app, 8).await;
    let answers = join_all(
        tokens
            .iter()
            .map(|t| checkin(&app, &staff, &small, json!({"token": t}))),
    )
    .await;
    let mut admitted = 0;
    for res in answers {
        match res.status().as_u16() {
            201 => admitted += 1,
            409 => {
                let p = assert_problem(res, 409, "shelter_full").await;
                assert_eq!(p["nearest_shelters"][0]["id"], other.as_str());
                assert_eq!(p["nearest_shelters"][0]["free"], 100);
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(admitted, 3);
    let s = shelter_view(&app, &official, &small).await;
    assert_eq!(
        (s["occupancy"].as_i64(), s["status"].as_str()),
        (Some(3), Some("full"))
    );
    let occupants: Value = app
        .get(&format!("/v1/shelters/{small}/occupants"), &staff)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(occupants["occupants"].as_array().unwrap().len(), 3);
    assert_eq!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "shelter.checkin")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_resident_scanned_at_two_shelters_at_once_gets_one_stay() {
    let app = spawn_app().await;
    let official = app.official().await;
    let a = shelter(&app, &official, "A", 30.2, 120.3, 50).await;
    let b = shelter(&app, &official, "B", 30.3, 120.3, 50).await;
    let token = codes(&app, 1).await.remove(0);
    let body = json!({"token": token});
    let (ra, rb) = tokio::join!(
        checkin(&app, &official, &a, body.clone()),
        checkin(&app, &official, &b, body.clone())
    );
    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let loser = if ra.status() == 409 { ra } else { rb };
    let p = assert_problem(loser, 409, "already_sheltered").await;
    assert!(p["sheltered_at"]["name"].is_string(), "says where: {p}");
    let total: i64 = [a, b]
        .iter()
        .map(|id| async {
            shelter_view(&app, &official, id).await["occupancy"]
                .as_i64()
                .unwrap()
        })
        .collect::<futures_util::stream::FuturesOrdered<_>>()
        .collect::<Vec<i64>>()
        .await
        .iter()
        .sum();
    assert_eq!(total, 1);
}

use futures_util::StreamExt;

#[tokio::test]
async fn a_retried_admission_is_applied_once_and_a_bad_code_is_refused() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 50).await;
    let other = shelter(&app, &official, "B", 30.2, 120.3, 50).await;
    let (_, staff) = app.create_user("staff", json!({"shelter_ids": [s]})).await;
    let token = codes(&app, 1).await.remove(0);
    let body = json!({"token": token, "idempotency_key": "desk1-0001"});
    let first: Value = checkin(&app, &staff, &s, body.clone())
        .await
        .json()
        .await
        .unwrap();
    let again = checkin(&app, &staff, &s, body).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["stay_id"], again["stay_id"]);
    assert_eq!(shelter_view(&app, &staff, &s).await["occupancy"], 1);

    assert_problem(
        checkin(&app, &staff, &other, json!({"token": token})).await,
        403,
        "forbidden",
    )
    .await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('0') { '1' } else { '0' });
    let p = checkin(&app, &staff, &s, json!({"token": forged})).await;
    assert_eq!(p.status(), 422);
    let p = checkin(&app, &staff, &s, json!({"token": "SC1:"})).await;
    assert_problem(p, 422, "malformed").await;
    let (_, resident) = app.registered().await;
    assert_problem(
        checkin(&app, &resident, &s, json!({"token": token})).await,
        403,
        "forbidden",
    )
    .await;
}

/// Admissions are written in batches; one refused inside a batch must leave nothing behind,
/// not even its idempotency key: the same request retried once there is room is admitted.
/// The same key sent three times at once is applied once.
#[tokio::test]
async fn a_refused_admission_leaves_nothing_even_in_a_busy_batch() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 2).await;
    let tokens = codes(&app, 12).await;
    let mut bodies: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"token": t, "idempotency_key": format!("desk-{i}")}))
        .collect();
    bodies.push(bodies[0].clone());
    bodies.push(bodies[0].clone());
    let answers = join_all(
        bodies
            .iter()
            .map(|b| checkin(&app, &official, &s, b.clone())),
    )
    .await;
    let mut stays = std::collections::HashSet::new();
    let mut refused = 0;
    for res in answers {
        match res.status().as_u16() {
            201 => {
                stays.insert(res.json::<Value>().await.unwrap()["stay_id"].clone());
            }
            409 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    // Two places; repeats of desk-0 either replay its admission or are refused with it.
    assert!(stays.len() <= 2 && !stays.is_empty(), "{stays:?}");
    assert_eq!(shelter_view(&app, &official, &s).await["occupancy"], 2);
    assert!(refused >= 10);
    let checkins = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "shelter.checkin")
        .count();
    assert_eq!(checkins, 2);

    // Room for everyone: every refused request, retried with its own key, now gets in; the
    // admitted ones replay.
    let res = app
        .patch(
            &format!("/v1/shelters/{s}"),
            &official,
            &json!({"capacity": 20}),
        )
        .await;
    assert_eq!(res.status(), 200);
    for b in &bodies[..12] {
        assert_eq!(checkin(&app, &official, &s, b.clone()).await.status(), 201);
    }
    assert_eq!(shelter_view(&app, &official, &s).await["occupancy"], 12);
    assert!(app.audit_verify().await["ok"].as_bool().unwrap());
}

#[tokio::test]
async fn admission_makes_a_red_resident_yellow_and_checkout_gives_the_place_back() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "江边").await;
    let (_, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "堤坝溃口"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let token = code_of(&app, &resident).await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 10).await;
    let (_, staff) = app.create_user("staff", json!({"shelter_ids": [s]})).await;
    let admitted: Value = checkin(&app, &staff, &s, json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admitted["colour"], "yellow", "transferred: {admitted}");
    let v: Value = app
        .post("/v1/verify", &staff, &json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["token_colour"].as_str(), v["current_colour"].as_str()),
        (Some("red"), Some("yellow"))
    );
    let view = shelter_view(&app, &official, &s).await;
    assert_eq!(view["red_admitted_today"], 1);

    let out = app
        .post(
            &format!("/v1/shelters/{s}/checkouts"),
            &staff,
            &json!({"stay_id": admitted["stay_id"], "reason": "returned_home"}),
        )
        .await;
    assert_eq!(out.status(), 200);
    assert_eq!(out.json::<Value>().await.unwrap()["occupancy"], 0);
    assert_problem(
        app.post(
            &format!("/v1/shelters/{s}/checkouts"),
            &staff,
            &json!({"token": token, "reason": "returned_home"}),
        )
        .await,
        409,
        "not_sheltered_here",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/shelters/{s}/checkouts"),
            &staff,
            &json!({"token": token, "reason": "bored"}),
        )
        .await,
        422,
        "invalid_reason",
    )
    .await;
    let v: Value = app
        .post("/v1/verify", &staff, &json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["current_colour"], "red", "back home inside the zone");
}

#[tokio::test]
async fn a_household_is_admitted_in_one_scan_of_the_heads_code() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 3).await;
    let mut body = resident_body();
    body["dependents"] = json!([
        {"name": "王小明", "id_number": new_id_number(), "needs": ["infant"]},
        {"name": "王奶奶", "id_number": new_id_number(), "needs": ["elderly"]}
    ]);
    let res = app.register(&body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let v: Value = res.json().await.unwrap();
    let token = code_of(&app, v["access_token"].as_str().unwrap()).await;
    let a: Value = checkin(
        &app,
        &official,
        &s,
        json!({"token": token, "include_dependents": true}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(a["occupancy"], 3, "{a}");
    assert_eq!(a["dependents"].as_array().unwrap().len(), 2);
    // A second household does not fit: nothing of it is admitted.
    let (_, other) = app.registered().await;
    let other = code_of(&app, &other).await;
    assert_problem(
        checkin(&app, &official, &s, json!({"token": other})).await,
        409,
        "shelter_full",
    )
    .await;
    assert_eq!(shelter_view(&app, &official, &s).await["occupancy"], 3);
}

#[tokio::test]
async fn lowering_capacity_below_occupancy_is_reported_and_holds_admissions() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 5).await;
    for t in codes(&app, 3).await {
        assert_eq!(
            checkin(&app, &official, &s, json!({"token": t}))
                .await
                .status(),
            201
        );
    }
    let v: Value = app
        .patch(
            &format!("/v1/shelters/{s}"),
            &official,
            &json!({"capacity": 2}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["over_capacity"].as_bool(), v["free"].as_i64()),
        (Some(true), Some(0))
    );
    let t = codes(&app, 1).await.remove(0);
    assert_problem(
        checkin(&app, &official, &s, json!({"token": t})).await,
        409,
        "shelter_full",
    )
    .await;
    let v: Value = app
        .patch(
            &format!("/v1/shelters/{s}"),
            &official,
            &json!({"status": "closed", "capacity": 10}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "closed");
    assert_problem(
        checkin(&app, &official, &s, json!({"token": t})).await,
        409,
        "shelter_closed",
    )
    .await;
}

async fn item(app: &TestApp, official: &str, quota: i64, per: &str) -> String {
    let res = app
        .post(
            "/v1/relief-items",
            official,
            &json!({"name": "饮用水", "unit": "bottle", "quota": quota, "per": per}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn relief_within_quota_holds_across_two_shelters_at_once() {
    let app = spawn_app().await;
    let official = app.official().await;
    let a = shelter(&app, &official, "A", 30.2, 120.3, 50).await;
    let b = shelter(&app, &official, "B", 30.3, 120.3, 50).await;
    let water = item(&app, &official, 4, "person").await;
    let token = codes(&app, 1).await.remove(0);
    let give = |s: String| {
        let body = json!({"token": token, "item_id": water, "quantity": 1});
        let app = &app;
        let official = official.clone();
        async move {
            app.post(&format!("/v1/shelters/{s}/distributions"), &official, &body)
                .await
                .status()
                .as_u16()
        }
    };
    let statuses =
        join_all((0..10).map(|i| give(if i % 2 == 0 { a.clone() } else { b.clone() }))).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 6);
    let p = assert_problem(
        app.post(
            &format!("/v1/shelters/{a}/distributions"),
            &official,
            &json!({"token": token, "item_id": water, "quantity": 1}),
        )
        .await,
        409,
        "quota_exceeded",
    )
    .await;
    assert_eq!(p["remaining"], 0);

    // The day's reports at A and B, as JSON and CSV: between them, the four handed out
    // (which desk won each race varies).
    let mut rows = 0;
    let mut lines = 0;
    for shelter in [&a, &b] {
        let day: Value = app
            .get(&format!("/v1/shelters/{shelter}/distributions"), &official)
            .await
            .json()
            .await
            .unwrap();
        rows += day["distributions"].as_array().unwrap().len();
        let csv = app
            .client
            .get(app.url(&format!("/v1/shelters/{shelter}/distributions")))
            .bearer_auth(&official)
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert!(
            csv.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv = csv.text().await.unwrap();
        assert!(csv.starts_with("given_at,item,"));
        lines += csv.lines().count() - 1;
        assert_eq!(
            csv.matches("饮用水").count(),
            csv.lines().count() - 1,
            "{csv}"
        );
    }
    assert_eq!((rows, lines), (4, 4));
}

#[tokio::test]
async fn a_retried_distribution_is_given_once_and_household_quotas_are_shared() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 50).await;
    let rice = item(&app, &official, 2, "household").await;
    let mut body = resident_body();
    body["dependents"] = json!([{"name": "王小明", "id_number": new_id_number()}]);
    let v: Value = json_ok(app.register(&body).await).await;
    let head = v["access_token"].as_str().unwrap().to_owned();
    let head_code = code_of(&app, &head).await;
    let dependent = v["dependents"][0].as_str().unwrap().to_owned();
    let dep_code: Value = app
        .get(
            &format!("/v1/residents/me/code?resident_id={dependent}"),
            &head,
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/shelters/{s}/distributions");
    let once =
        json!({"token": head_code, "item_id": rice, "quantity": 1, "idempotency_key": "k-1"});
    let first: Value = app
        .post(&path, &official, &once)
        .await
        .json()
        .await
        .unwrap();
    let again: Value = app
        .post(&path, &official, &once)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["distribution_id"], again["distribution_id"]);
    assert_eq!(again["remaining"], 1);
    let dep = app
        .post(
            &path,
            &official,
            &json!({"token": dep_code["token"], "item_id": rice, "quantity": 1}),
        )
        .await;
    assert_eq!(dep.status(), 201);
    assert_eq!(
        dep.json::<Value>().await.unwrap()["remaining"],
        0,
        "the household shares one quota"
    );
    assert_problem(
        app.post(
            &path,
            &official,
            &json!({"token": head_code, "item_id": rice, "quantity": 1}),
        )
        .await,
        409,
        "quota_exceeded",
    )
    .await;
}

/// Two `safecode serve` processes on one database (each its own pool and caches), 64
/// concurrent admissions to a shelter of 10 split between them: exactly 10 get in. Then one
/// quota hammered through both. The codes come from `safecode dev issue-codes`.
#[tokio::test]
async fn limits_hold_through_two_server_processes_on_one_database() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 10).await;
    for _ in 0..64 {
        app.registered().await;
    }
    let file = app.dir.path().join("codes.txt");
    let out = std::process::Command::new(TestApp::binary())
        .args(["dev", "issue-codes", "--count", "64", "--out"])
        .arg(&file)
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
    let tokens: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), 64);
    assert_eq!(
        tokens
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        64
    );

    let servers = [
        ServeProcess::start(&app).await,
        ServeProcess::start(&app).await,
    ];
    let post = |i: usize, path: String, body: Value| {
        app.client
            .post(servers[i % 2].url(&path))
            .bearer_auth(&official)
            .json(&body)
            .send()
    };
    let answers = join_all(
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| post(i, format!("/v1/shelters/{s}/checkins"), json!({"token": t}))),
    )
    .await;
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|&&c| c == 201).count();
    let full = statuses.iter().filter(|&&c| c == 409).count();
    assert_eq!((ok, full), (10, 54), "{statuses:?}");
    assert_eq!(shelter_view(&app, &official, &s).await["occupancy"], 10);
    let occupants: Value = app
        .get(&format!("/v1/shelters/{s}/occupants"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(occupants["occupants"].as_array().unwrap().len(), 10);

    let water = item(&app, &official, 5, "person").await;
    let body = json!({"token": tokens[0], "item_id": water, "quantity": 1});
    let given =
        join_all((0..32).map(|i| post(i, format!("/v1/shelters/{s}/distributions"), body.clone())))
            .await;
    let statuses: Vec<u16> = given
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&c| c == 409).count(), 27);
    let report: Value = app
        .get(&format!("/v1/shelters/{s}/distributions"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["distributions"].as_array().unwrap().len(), 5);
    assert!(app.audit_verify().await["ok"].as_bool().unwrap());
}

/// The desk photographs the code instead of reading its text: the same admission.
#[tokio::test]
async fn a_photo_of_the_code_admits_like_its_text() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter(&app, &official, "A", 30.2, 120.3, 5).await;
    let (_, resident) = app.registered().await;
    let png = app
        .get("/v1/residents/me/code?format=png", &resident)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let form = reqwest::multipart::Form::new()
        .part(
            "image",
            reqwest::multipart::Part::bytes(png.clone())
                .file_name("code.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .text("idempotency_key", "photo-1");
    let res = app
        .client
        .post(app.url(&format!("/v1/shelters/{s}/checkins")))
        .bearer_auth(&official)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(shelter_view(&app, &official, &s).await["occupancy"], 1);

    // Relief and check-out from the same photo.
    let water = item(&app, &official, 2, "person").await;
    let photo = |fields: &[(&str, &str)]| {
        let mut form = reqwest::multipart::Form::new().part(
            "image",
            reqwest::multipart::Part::bytes(png.clone())
                .file_name("code.png")
                .mime_str("image/png")
                .unwrap(),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form
    };
    let send = |path: String, form: reqwest::multipart::Form| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&official)
            .multipart(form)
            .send()
    };
    let given = send(
        format!("/v1/shelters/{s}/distributions"),
        photo(&[("item_id", &water), ("quantity", "2")]),
    )
    .await
    .unwrap();
    assert_eq!(given.status(), 201, "{:?}", given.text().await);
    let more = send(
        format!("/v1/shelters/{s}/distributions"),
        photo(&[("item_id", &water), ("quantity", "1")]),
    )
    .await
    .unwrap();
    assert_problem(more, 409, "quota_exceeded").await;
    let out = send(
        format!("/v1/shelters/{s}/checkouts"),
        photo(&[("reason", "returned_home")]),
    )
    .await
    .unwrap();
    assert_eq!(out.status(), 200, "{:?}", out.text().await);
    assert_eq!(shelter_view(&app, &official, &s).await["occupancy"], 0);

    let blank = reqwest::multipart::Form::new().text("idempotency_key", "photo-2");
    let res = app
        .client
        .post(app.url(&format!("/v1/shelters/{s}/checkins")))
        .bearer_auth(&official)
        .multipart(blank)
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "missing_image").await;
}
