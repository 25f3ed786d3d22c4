use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_resident_registers_and_reads_their_profile() {
    let app = spawn_app().await;
    let body = resident_body();
    let res = app.register(&body).await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    let token = v["access_token"].as_str().unwrap();
    assert!(
        token.starts_with("sc_") && token.len() == 46,
        "256-bit token: {token}"
    );

    let me: Value = app
        .get("/v1/residents/me", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], v["resident_id"]);
    assert_eq!(me["name"], "王小明");
    assert_eq!(me["id_last4"], body["id_number"].as_str().unwrap()[14..]);
    assert_eq!(me["phone"], "+8613912345678");
    assert_eq!(me["needs"], json!(["elderly"]));
    assert_eq!(me["location"], json!({"lat": 30.18, "lon": 120.26}));
    // The birth year comes from the ID number when not given.
    assert_eq!(
        me["birth_year"].as_i64().unwrap(),
        body["id_number"].as_str().unwrap()[6..10]
            .parse::<i64>()
            .unwrap()
    );
    assert!(me.get("id_number").is_none() && me.get("id_hash").is_none());
}

#[tokio::test]
async fn the_id_number_is_stored_only_as_a_keyed_hash_and_last_four() {
    let app = spawn_app().await;
    let body = resident_body();
    let number = body["id_number"].as_str().unwrap().to_owned();
    assert_eq!(app.register(&body).await.status(), 201);
    let rows: Vec<(Vec<u8>, String)> = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_as("SELECT id_hash, id_last4 FROM residents")
            .fetch_all(c)
            .await
            .unwrap()
    });
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, &number[14..]);
    assert_eq!(rows[0].0.len(), 32);
    let plain: [u8; 32] = sha2_of(&format!("cn_resident_id:{number}"));
    assert_ne!(
        rows[0].0,
        plain.to_vec(),
        "an unkeyed hash could be reversed by enumeration"
    );
}

/// 17 digits and their correct check character.
fn with_check(first17: &str) -> String {
    let c = safecode::domain::document::cn_check_char(first17.as_bytes()).unwrap();
    format!("{first17}{c}")
}

fn sha2_of(s: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).into()
}

#[tokio::test]
async fn each_validation_rule_has_its_own_code() {
    let app = spawn_app().await;
    let id = new_id_number();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("name", json!(""), "name_missing"),
        ("name", json!("名".repeat(101)), "name_too_long"),
        ("name", json!("a\u{7}b"), "name_invalid"),
        ("id_number", json!(bad_checksum(&id)), "id_number_checksum"),
        ("id_number", json!("12345"), "invalid_id_number"),
        (
            "id_number",
            json!(with_check("33010919351331001")),
            "invalid_id_number",
        ),
        ("phone", json!("12345"), "invalid_phone"),
        ("phone", json!("+86 12012345678"), "invalid_phone"),
        (
            "location",
            json!({"lat": 91.0, "lon": 120.0}),
            "invalid_location",
        ),
        (
            "location",
            json!({"lat": 30.0, "lon": 181.0}),
            "invalid_location",
        ),
        ("needs", json!(["vip"]), "invalid_need"),
        ("birth_year", json!(1850), "birth_year_mismatch"),
        ("address", json!("x".repeat(201)), "invalid_address"),
    ];
    for (field, value, code) in cases {
        let mut body = resident_body();
        body[field] = value;
        let res = app.register(&body).await;
        let p = assert_problem(res, 422, code).await;
        assert!(p["field"].as_str().unwrap().starts_with(field), "{p}");
    }
    // Passports: 5–20 letters or digits, and the birth year is checked for plausibility.
    let mut body = resident_body();
    body["id_type"] = json!("passport");
    body["id_number"] = json!("E12");
    assert_problem(app.register(&body).await, 422, "invalid_passport_number").await;
    body["id_number"] = json!("E1234567");
    body["birth_year"] = json!(1850);
    assert_problem(app.register(&body).await, 422, "invalid_birth_year").await;
    body["birth_year"] = json!(1950);
    body["id_type"] = json!("drivers_licence");
    assert_problem(app.register(&body).await, 422, "invalid_body").await;
    // Nothing of the above was stored.
    assert_eq!(
        app.audit_verify().await["entries"],
        2,
        "only the default rule set and the first admin are audited"
    );
}

#[tokio::test]
async fn dependents_register_with_their_head_and_inherit_the_household_address() {
    let app = spawn_app().await;
    let mut body = resident_body();
    body["dependents"] = json!([
        {"name": "王奶奶", "id_number": new_id_number(), "needs": ["elderly", "wheelchair"]},
        {"name": "Anna", "id_type": "passport", "id_number": "E7654321", "birth_year": 2019}
    ]);
    let v: Value = json_ok(app.register(&body).await).await;
    assert_eq!(v["dependents"].as_array().unwrap().len(), 2);
    let token = v["access_token"].as_str().unwrap();
    let me: Value = app
        .get("/v1/residents/me", token)
        .await
        .json()
        .await
        .unwrap();
    let deps = me["household"]["dependents"].as_array().unwrap();
    assert_eq!(deps.len(), 2);
    assert_eq!(deps[0]["name"], "王奶奶");
    assert_eq!(deps[0]["needs"], json!(["elderly", "wheelchair"]));

    let official = app.official().await;
    let dep: Value = app
        .get(
            &format!("/v1/residents/{}", deps[1]["id"].as_str().unwrap()),
            &official,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dep["household"]["head"], v["resident_id"]);
    assert_eq!(dep["address"], body["address"]);
    assert_eq!(dep["location"], body["location"]);
    assert_eq!(dep["birth_year"], 2019);
}

#[tokio::test]
async fn a_failed_household_registration_stores_nothing() {
    let app = spawn_app().await;
    let entries_before = app.audit_verify().await["entries"].clone();

    let mut body = resident_body();
    body["dependents"] = json!([
        {"name": "王小红", "id_number": new_id_number()},
        {"name": "王小兰", "id_number": body["id_number"]}
    ]);
    let p = assert_problem(app.register(&body).await, 422, "repeated_document").await;
    assert_eq!(p["field"], "dependents[1].id_number");
    assert_eq!(app.audit_verify().await["entries"], entries_before);
    // The head was not half-registered: registering them alone now works.
    body["dependents"] = json!([]);
    assert_eq!(app.register(&body).await.status(), 201);

    let mut nested = resident_body();
    nested["dependents"] = json!([{"name": "x", "id_number": new_id_number(), "dependents": [{"name": "y", "id_number": new_id_number()}]}]);
    assert_problem(app.register(&nested).await, 422, "nested_dependents").await;
    let mut many = resident_body();
    many["dependents"] = Value::Array(
        (0..21)
            .map(|_| json!({"name": "x", "id_number": new_id_number()}))
            .collect(),
    );
    assert_problem(app.register(&many).await, 422, "too_many_dependents").await;
}

#[tokio::test]
async fn a_registration_retried_with_the_same_idempotency_key_is_applied_once() {
    let app = spawn_app().await;
    let body = resident_body();
    let send = |key: &'static str, body: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/residents"))
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let first = send("reg-7f3a", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send("reg-7f3a", body.clone()).await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    assert_eq!(
        first, second,
        "the retry returns the first answer, token included"
    );
    let me = app
        .get("/v1/residents/me", second["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), 200);
    let count = app.resident_count().await;
    assert_eq!(count, 1);
    // The same key for a different request is refused, and stores nothing.
    let res = send("reg-7f3a", resident_body()).await;
    assert_problem(res, 422, "idempotency_key_reused").await;
    let res = app
        .client
        .post(app.url("/v1/residents"))
        .header("idempotency-key", "x".repeat(201))
        .json(&resident_body())
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn only_officials_read_and_change_residents() {
    let app = spawn_app().await;
    let (id, resident_token) = app.registered().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let path = format!("/v1/residents/{id}");
    for token in [&resident_token, &staff, &app.admin_token] {
        assert_problem(app.get(&path, token).await, 403, "forbidden").await;
        let res = app
            .client
            .patch(app.url(&path))
            .bearer_auth(token)
            .json(&json!({"needs": []}))
            .send()
            .await
            .unwrap();
        assert_problem(res, 403, "forbidden").await;
    }
    assert_problem(
        app.client.get(app.url(&path)).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    // Staff and officials have no resident profile of their own.
    assert_problem(app.get("/v1/residents/me", &staff).await, 403, "forbidden").await;
    let official = app.official().await;
    assert_problem(
        app.get(
            &format!("/v1/residents/{}", uuid::Uuid::new_v4()),
            &official,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_official_changes_facts_and_the_change_is_audited() {
    let app = spawn_app().await;
    let (id, resident_token) = app.registered().await;
    let official = app.official().await;
    let path = format!("/v1/residents/{id}");
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&official)
        .json(&json!({"needs": ["elderly", "medical"], "location": null, "reason": "home visit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the colour stays green: applied at once");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["needs"], json!(["elderly", "medical"]));
    assert_eq!(v["flags"], json!([]));
    assert_eq!(v["location"], Value::Null);
    assert_eq!(
        v["phone"], "+8613912345678",
        "fields not given stay as they were"
    );

    let trail: Value = app
        .get(&format!("/v1/audit?subject=resident:{id}"), &official)
        .await
        .json()
        .await
        .unwrap();
    let update = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "resident.update")
        .expect("update audited");
    assert_eq!(update["before"]["needs"], json!(["elderly"]));
    assert_eq!(update["after"]["needs"], json!(["elderly", "medical"]));
    assert_eq!(update["reason"], "home visit");
    assert!(update["actor"].as_str().unwrap().starts_with("official:"));

    // Bad patches change nothing.
    for (body, code) in [
        (json!({}), "empty_patch"),
        (json!({"flags": ["vip"]}), "invalid_flag"),
        (
            json!({"location": {"lat": 100, "lon": 0}}),
            "invalid_location",
        ),
        (json!({"phone": "0"}), "invalid_phone"),
    ] {
        let res = app
            .client
            .patch(app.url(&path))
            .bearer_auth(&official)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 422, code).await;
    }
    let me: Value = app
        .get("/v1/residents/me", &resident_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["needs"],
        json!(["elderly", "medical"]),
        "the bad patches changed nothing"
    );
}

#[tokio::test]
async fn a_database_copy_cannot_search_idempotency_records_and_they_are_kept_a_day() {
    let app = spawn_app().await;
    let body = resident_body();
    let register = |key: &'static str, body: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/residents"))
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(register("reg-1", body.clone()).await.status(), 201);
    let stored: Vec<u8> = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_scalar("SELECT request_hash FROM idempotency WHERE key = 'reg-1'")
            .fetch_one(c)
            .await
            .unwrap()
    });
    // The attack: hash candidate forms (every date of birth behind an ID number) and look
    // for the stored value. The form as the server reads it, hashed plainly, is not there.
    use sha2::Digest;
    let form: safecode::domain::resident::ResidentForm =
        serde_json::from_value(body.clone()).unwrap();
    let plain = sha2::Sha256::digest(serde_json::to_vec(&form).unwrap());
    let raw = sha2::Sha256::digest(serde_json::to_vec(&body).unwrap());
    assert_ne!(stored.as_slice(), plain.as_slice());
    assert_ne!(stored.as_slice(), raw.as_slice());
    assert_eq!(stored.len(), 32);

    // After a day the record is gone: the key is free again, and the purge removes it.
    safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query("UPDATE idempotency SET created_at = $1")
            .bind(chrono::Utc::now() - chrono::Duration::hours(25))
            .execute(c)
            .await
            .unwrap();
    });
    let mut other = resident_body();
    other["name"] = json!("Zhou Min");
    assert_eq!(
        register("reg-1", other).await.status(),
        201,
        "a day-old key is not a replay, nor a reused key"
    );
    safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query("UPDATE idempotency SET created_at = $1")
            .bind(chrono::Utc::now() - chrono::Duration::hours(25))
            .execute(c)
            .await
            .unwrap();
    });
    let purged = safecode::store::idempotency::purge(&app.ctx.db, chrono::Utc::now())
        .await
        .unwrap();
    assert!(purged >= 1);
    let left: i64 = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM idempotency")
            .fetch_one(c)
            .await
            .unwrap()
    });
    assert_eq!(left, 0);
}
