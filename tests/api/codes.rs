//! Signed codes end to end: fetch, render, decode the real image, verify, rotate, revoke.

use crate::helpers::*;
use serde_json::{Value, json};

async fn verify_token(app: &TestApp, staff: &str, token: &str) -> Value {
    let res = app
        .post("/v1/verify", staff, &json!({"token": token}))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn my_code(app: &TestApp, resident: &str) -> Value {
    let res = app.get("/v1/residents/me/code?format=json", resident).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_code_fetched_as_png_decodes_and_verifies_with_its_colour_now() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (id, resident) = resident_at(&app, 30.05, 120.05, &["elderly"]).await;

    let png = app
        .get("/v1/residents/me/code?format=png&scale=6", &resident)
        .await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let token =
        safecode::qr::decode(&png.bytes().await.unwrap()).expect("the rendered PNG reads back");
    assert!(token.starts_with("SC1:"));

    let v = verify_token(&app, &staff, &token).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["token_colour"], "green");
    assert_eq!(v["current_colour"], "green");
    assert_eq!(v["stale"], false);
    let as_of: chrono::DateTime<chrono::Utc> = v["data_as_of"].as_str().unwrap().parse().unwrap();
    assert!(
        (chrono::Utc::now() - as_of).num_seconds().abs() < 5,
        "read live: {as_of}"
    );
    assert_eq!(v["resident"]["id"], id.as_str());
    assert_eq!(
        v["resident"]["display_name"].as_str().unwrap(),
        format!("王*明 {}", v["resident"]["id_last4"].as_str().unwrap())
    );
    assert_eq!(v["resident"]["needs"], json!(["elderly"]));

    // An order turns them red: the same code now says so, flagged stale.
    let zone = app.square_zone(&official, "z").await;
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "surge"}),
    )
    .await;
    let v = verify_token(&app, &staff, &token).await;
    assert_eq!(
        (
            v["token_colour"].as_str(),
            v["current_colour"].as_str(),
            v["stale"].as_bool()
        ),
        (Some("green"), Some("red"), Some(true))
    );
    assert_eq!(v["reasons"][0]["rule"], "mandatory_not_transferred");
    // A fresh code carries the new colour.
    assert_eq!(my_code(&app, &resident).await["colour"], "red");
}

#[tokio::test]
async fn a_photo_is_verified_from_a_multipart_upload() {
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, resident) = app.registered().await;
    let png = app
        .get("/v1/residents/me/code?format=png&scale=5", &resident)
        .await
        .bytes()
        .await
        .unwrap();
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(png.to_vec()).file_name("code.png"),
    );
    let res = app.verify_photo(&staff, form).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["valid"], true);

    let blank = {
        let img = image::GrayImage::from_pixel(300, 300, image::Luma([255]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let form =
        reqwest::multipart::Form::new().part("image", reqwest::multipart::Part::bytes(blank));
    let res = app.verify_photo(&staff, form).await;
    assert_problem(res, 422, "no_qr_found").await;
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(b"not an image".to_vec()),
    );
    let res = app.verify_photo(&staff, form).await;
    assert_problem(res, 422, "unreadable_image").await;
    let form = reqwest::multipart::Form::new().text("photo", "x");
    let res = app.verify_photo(&staff, form).await;
    assert_problem(res, 422, "missing_image").await;
}

#[tokio::test]
async fn broken_and_forged_codes_are_invalid_not_errors() {
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, resident) = app.registered().await;
    let token = my_code(&app, &resident).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (bad, code) in [
        ("hello".to_owned(), "malformed"),
        (token.replacen("SC1:", "SC2:", 1), "malformed"),
        (
            format!(
                "{}{}",
                &token[..token.len() - 1],
                if token.ends_with('0') { '1' } else { '0' }
            ),
            "bad_signature",
        ),
    ] {
        let v = verify_token(&app, &staff, &bad).await;
        assert_eq!(v["valid"], false, "{bad}");
        // A one-character change may also break the CBOR rather than the signature.
        let got = v["error"].as_str().unwrap();
        assert!(
            got == code || (code == "bad_signature" && got == "malformed"),
            "{got}"
        );
    }
    let res = app
        .post("/v1/verify", &staff, &json!({"tokn": token}))
        .await;
    assert_problem(res, 422, "invalid_body").await;
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .bearer_auth(&staff)
        .body(token.clone())
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn staff_officials_and_admins_verify_residents_cannot() {
    let app = spawn_app().await;
    let (_, resident) = app.registered().await;
    let token = my_code(&app, &resident).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let official = app.official().await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [uuid::Uuid::new_v4()]}))
        .await;
    for t in [&staff, &official, &app.admin_token] {
        assert_eq!(verify_token(&app, t, &token).await["valid"], true);
    }
    assert_problem(
        app.post("/v1/verify", &resident, &json!({"token": token}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .client
        .post(app.url("/v1/verify"))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
}

#[tokio::test]
async fn rotation_keeps_old_codes_valid_and_revocation_ends_them() {
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, resident) = app.registered().await;
    let old = my_code(&app, &resident).await;
    let jwks: Value = app
        .client
        .get(app.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        1,
        "a key was generated on first start"
    );
    assert_eq!(jwks["keys"][0]["kid"], old["kid"]);
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");

    assert_problem(
        app.post("/v1/keys/rotate", &staff, &json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .post("/v1/keys/rotate", &app.admin_token, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let new = my_code(&app, &resident).await;
    assert_ne!(new["kid"], old["kid"], "the new key signs");
    assert_eq!(
        verify_token(&app, &staff, old["token"].as_str().unwrap()).await["valid"],
        true,
        "retired keys still verify"
    );

    let kid = safecode::token::Kid::from_hex(old["kid"].as_str().unwrap()).unwrap();
    safecode::keys::signing::set_status(
        &app.settings.keys_dir,
        kid,
        safecode::keys::signing::KeyStatus::Revoked,
    )
    .unwrap();
    let v = verify_token(&app, &staff, old["token"].as_str().unwrap()).await;
    assert_eq!(
        (v["valid"].as_bool(), v["error"].as_str()),
        (Some(false), Some("revoked_key"))
    );
    assert_eq!(
        verify_token(&app, &staff, new["token"].as_str().unwrap()).await["valid"],
        true
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"keys.rotate".to_owned())
    );
}

#[tokio::test]
async fn officials_print_long_lived_codes_and_cards_and_heads_fetch_dependents_codes() {
    let app = spawn_app().await;
    let official = app.official().await;
    let mut body = resident_body();
    body["dependents"] =
        json!([{"name": "李奶奶", "id_number": new_id_number(), "needs": ["elderly"]}]);
    let v: Value = json_ok(app.register(&body).await).await;
    let (head, token) = (
        v["resident_id"].as_str().unwrap().to_owned(),
        v["access_token"].as_str().unwrap().to_owned(),
    );
    let dep = v["dependents"][0].as_str().unwrap().to_owned();

    let printed: Value = app
        .get(&format!("/v1/residents/{dep}/code?printed=true"), &official)
        .await
        .json()
        .await
        .unwrap();
    let issued =
        chrono::DateTime::parse_from_rfc3339(printed["issued_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(printed["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - issued).num_days(), 180);
    let card = app
        .get(
            &format!("/v1/residents/{dep}/code?printed=true&format=card"),
            &official,
        )
        .await;
    assert_eq!(card.headers()["content-type"], "image/svg+xml");
    let svg = card.text().await.unwrap();
    assert!(
        svg.contains("李*奶")
            && svg.contains("GREEN")
            && svg.contains("live")
            && svg.contains("实时核验"),
        "{svg}"
    );
    assert!(!svg.contains("李奶奶"), "the full name is never printed");

    let mine: Value = app
        .get(&format!("/v1/residents/me/code?resident_id={dep}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(mine["display"].as_str().unwrap().starts_with("李*奶"));
    let (_, stranger) = app.registered().await;
    assert_problem(
        app.get(
            &format!("/v1/residents/me/code?resident_id={dep}"),
            &stranger,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/residents/{head}/code"), &token).await,
        403,
        "forbidden",
    )
    .await;
    let svg = app.get("/v1/residents/me/code?format=svg", &token).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let metrics = app.public_text("/metrics").await;
    assert!(
        metrics.contains(r#"codes_issued_total{format="card"} 1"#),
        "{metrics}"
    );
}

/// Several servers share one keys folder and one database: what one signs, the other
/// verifies, and a rotation through one is used by both.
#[tokio::test]
async fn two_servers_on_one_keys_folder_sign_and_verify_alike() {
    let first = spawn_app().await;
    let second = another_server(&first).await;
    let (_, staff) = first.create_user("staff", json!({})).await;
    let (_, resident) = first.registered().await;
    let from_first = my_code(&first, &resident).await;
    assert_eq!(
        verify_token(&second, &staff, from_first["token"].as_str().unwrap()).await["valid"],
        true
    );
    let res = first
        .post("/v1/keys/rotate", &first.admin_token, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let from_second = my_code(&second, &resident).await;
    assert_ne!(
        from_second["kid"], from_first["kid"],
        "the second server signs with the key the first one made"
    );
    for token in [&from_first["token"], &from_second["token"]] {
        assert_eq!(
            verify_token(&first, &staff, token.as_str().unwrap()).await["valid"],
            true
        );
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Scans that arrive together are checked together (one batch verification, one read of
/// their holders' facts), and each still gets exactly its own answer: its holder, its colour
/// now, and a refusal for a forged, foreign or garbled code among them; a colour changed a
/// moment ago shows at the very next scan, batched or not.
#[tokio::test]
async fn scans_at_once_are_checked_together_and_each_gets_its_own_answer() {
    use futures_util::future::join_all;
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "river bank").await;
    // Eight inside the zone, eight outside.
    let mut people = Vec::new();
    for i in 0..16 {
        let lat = if i % 2 == 0 { 30.05 } else { 30.5 };
        let (id, access) = resident_at(&app, lat, 120.05, &[]).await;
        let token = my_code(&app, &access).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        people.push((id, i % 2 == 0, token));
    }
    let forged = {
        let t = &people[0].2;
        format!(
            "{}{}",
            &t[..t.len() - 1],
            if t.ends_with('0') { '1' } else { '0' }
        )
    };
    let foreign = {
        use ed25519_dalek::SigningKey;
        let now = chrono::Utc::now().timestamp();
        safecode::token::encode(
            &safecode::token::Claims {
                issuer: "safecode".into(),
                subject: people[1].0.clone(),
                issued_at: now,
                expires_at: now + 3600,
                token_id: [9; 8],
                colour: safecode::domain::Colour::Green,
                status_index: safecode::domain::StatusIndex(1),
                district: None,
                rules_version: 1,
                display: "x".into(),
            },
            &SigningKey::from_bytes(&[42; 32]),
        )
    };
    let before = app.public_text("/metrics").await;

    let scan_all = |expect_red_inside: bool| {
        let app = &app;
        let staff = &staff;
        let people = &people;
        let forged = &forged;
        let foreign = &foreign;
        async move {
            // Every code four times, the bad ones among them, all at once.
            let mut asks: Vec<(Option<usize>, String)> = Vec::new();
            for round in 0..4 {
                for (i, (_, _, t)) in people.iter().enumerate() {
                    asks.push((Some(i), t.clone()));
                }
                asks.push((None, forged.clone()));
                asks.push((None, foreign.clone()));
                asks.push((None, format!("SC1:garbage{round}")));
            }
            let answers = join_all(asks.iter().map(|(_, t)| verify_token(app, staff, t))).await;
            for ((who, text), v) in asks.iter().zip(answers) {
                match who {
                    Some(i) => {
                        let (id, inside, _) = &people[*i];
                        assert_eq!(v["valid"], true, "{v}");
                        assert_eq!(v["resident"]["id"], id.as_str(), "{v}");
                        let want = if *inside && expect_red_inside {
                            "red"
                        } else {
                            "green"
                        };
                        assert_eq!(v["current_colour"], want, "{v}");
                        assert_eq!(v["stale"], want != "green", "{v}");
                    }
                    None => {
                        assert_eq!(v["valid"], false, "{text}: {v}");
                        let e = v["error"].as_str().unwrap();
                        let expected: &[&str] = if text == forged {
                            &["bad_signature", "malformed"]
                        } else if text == foreign {
                            &["unknown_key"]
                        } else {
                            &["malformed"]
                        };
                        assert!(expected.contains(&e), "{text}: {v}");
                    }
                }
            }
        }
    };
    scan_all(false).await;
    // The order goes out; the next scans, at once again, show red inside the zone.
    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "The embankment is failing."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    scan_all(true).await;

    let after = app.public_text("/metrics").await;
    let scans = metric(&after, "scans_batched_total") - metric(&before, "scans_batched_total");
    let batches = metric(&after, "scan_batches_total") - metric(&before, "scan_batches_total");
    assert_eq!(
        scans,
        2 * 4 * 19,
        "every scan went through a batch: {after}"
    );
    assert!(
        batches < scans,
        "{scans} scans arriving together took {batches} batches"
    );
}

/// On SQLite each server thread reads a batch's facts on its own connection to the file.
/// Between scans none of those connections may hold a read open: a held read would pin the
/// snapshot it began on (every later scan on that thread would show the colour of then) and
/// keep the WAL from ever being copied back and emptied (the file grows; what retention
/// deleted stays in it). So after a burst of scans the WAL empties completely, and a colour
/// changed after the burst shows at the next scan.
#[tokio::test]
async fn scans_leave_no_read_open_between_them() {
    use futures_util::future::join_all;
    use sqlx::Connection;
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "low street").await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (_, access) = resident_at(&app, 30.05, 120.05, &[]).await;
        codes.push(
            my_code(&app, &access).await["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let burst = |want: &'static str| {
        let (app, staff, codes) = (&app, &staff, &codes);
        async move {
            let asks = (0..8).flat_map(|_| codes.iter());
            for v in join_all(asks.map(|t| verify_token(app, staff, t))).await {
                assert_eq!(v["current_colour"], want, "{v}");
            }
        }
    };
    burst("green").await;

    if let Some(path) = app.sqlite_file() {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(busy, 0, "a reader still held the WAL after the scans");
        let wal = std::fs::metadata(format!("{path}-wal")).unwrap().len();
        assert_eq!(wal, 0, "the WAL was not emptied");
    }

    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "The dyke is overtopping."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    burst("red").await;
}
