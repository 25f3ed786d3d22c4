//! Registration that cannot be probed or squatted (issue 16, item 3), as the attacks: a
//! stranger asks whether an ID number is registered; someone with a leaked ID list registers
//! a victim first, with a wrong location; the victim gets their record back with an
//! official, ID card in hand.

use crate::helpers::*;
use safecode::token::offline::{Bundle, Outcome};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn verify(app: &TestApp, staff: &str, code: &str) -> Value {
    json_ok(app.post("/v1/verify", staff, &json!({"token": code})).await).await
}

fn shape(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn registering_a_known_document_answers_exactly_as_a_new_one() {
    let app = spawn_app().await;
    let first = resident_body();
    let a = app.register(&first).await;
    assert_eq!(a.status(), 201);
    let a: Value = a.json().await.unwrap();

    // The prober: the same number (spelled in lower case), another name and place.
    let mut probe = resident_body();
    probe["id_number"] = json!(first["id_number"].as_str().unwrap().to_lowercase());
    probe["name"] = json!("someone else");
    probe["location"] = json!({"lat": 29.0, "lon": 119.0});
    let b = app.register(&probe).await;
    assert_eq!(b.status(), 201, "a known document is not a conflict");
    let b: Value = b.json().await.unwrap();
    // A never-seen number, for comparison.
    let c: Value = json_ok(app.register(&resident_body()).await).await;
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(shape(&b), shape(&c));
    assert_ne!(a["resident_id"], b["resident_id"]);
    // Each works as any resident's: the first holder is not locked out, nor the second.
    for (v, name) in [(&a, "王小明"), (&b, "someone else")] {
        let me = json_ok(
            app.get("/v1/residents/me", v["access_token"].as_str().unwrap())
                .await,
        )
        .await;
        assert_eq!(me["name"], name);
        assert_eq!(me["id"], v["resident_id"]);
        let code = app
            .get("/v1/residents/me/code", v["access_token"].as_str().unwrap())
            .await;
        assert_eq!(code.status(), 200);
    }
}

#[tokio::test]
async fn a_repeated_document_within_one_form_is_a_422_and_stores_nothing() {
    let app = spawn_app().await;
    let before = app.audit_verify().await["entries"].clone();
    let mut body = resident_body();
    body["dependents"] = json!([{"name": "王小红", "id_number": body["id_number"]}]);
    let p = assert_problem(app.register(&body).await, 422, "repeated_document").await;
    assert_eq!(p["field"], "dependents[0].id_number", "{p}");
    assert_eq!(app.audit_verify().await["entries"], before);
}

/// The whole attack and its repair: a squatter registers the victim's ID first, far away; the
/// victim registers anyway and is served; the desk sees the dispute; an official takes the
/// victim's record back with the ID card, a second one retires the squatter's record.
#[tokio::test]
async fn a_squatted_registration_is_taken_back_and_the_squatters_record_retired() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let victim_id = new_id_number();

    let mut squat = resident_body();
    squat["id_number"] = json!(victim_id);
    squat["name"] = json!("王小明");
    squat["location"] = json!({"lat": 29.5, "lon": 119.5});
    let squatter: Value = json_ok(app.register(&squat).await).await;
    let squatter_token = squatter["access_token"].as_str().unwrap().to_owned();
    let squatter_code = code_of(&app, &squatter_token).await;

    let mut mine = resident_body();
    mine["id_number"] = json!(victim_id);
    mine["location"] = json!({"lat": 30.05, "lon": 120.05});
    let victim: Value = json_ok(app.register(&mine).await).await;
    let victim_rid = victim["resident_id"].as_str().unwrap().to_owned();
    let victim_token = victim["access_token"].as_str().unwrap().to_owned();
    let victim_code = code_of(&app, &victim_token).await;

    // At the desk both codes are genuine, and both say "check the ID card".
    for code in [&victim_code, &squatter_code] {
        let v = verify(&app, &staff, code).await;
        assert_eq!(v["valid"], true);
        assert_eq!(v["resident"]["document_disputed"], true, "{v}");
    }
    // A resident sees nothing of it (the prober learns nothing).
    let me = json_ok(app.get("/v1/residents/me", &victim_token).await).await;
    assert!(!me.to_string().contains("disput"), "{me}");

    // Officials see the document in their disputes, and find its records by the number.
    let disputes = json_ok(app.get("/v1/residents/disputes", &first).await).await;
    let d = disputes
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id_last4"] == json!(&victim_id[14..]))
        .expect("the disputed document is listed");
    assert_eq!(d["records"].as_array().unwrap().len(), 2);
    assert_eq!(d["records"][0]["standing"], "primary");
    assert_eq!(d["records"][1]["standing"], "claim");
    assert_eq!(d["records"][1]["id"], json!(victim_rid));
    assert!(
        !disputes.to_string().contains(&victim_id),
        "never the number"
    );
    let found = json_ok(
        app.post(
            "/v1/residents/lookup",
            &first,
            &json!({"id_number": victim_id.to_lowercase()}),
        )
        .await,
    )
    .await;
    assert_eq!(found["records"].as_array().unwrap().len(), 2);
    assert_eq!(found["id_last4"], json!(&victim_id[14..]));

    // Without the card, no take-back.
    assert_problem(
        app.post(
            &format!("/v1/residents/{victim_rid}/reclaim"),
            &first,
            &json!({"id_card_checked": false}),
        )
        .await,
        422,
        "id_card_not_checked",
    )
    .await;
    let back = json_ok(
        app.post(
            &format!("/v1/residents/{victim_rid}/reclaim"),
            &first,
            &json!({"id_card_checked": true, "reason": "card seen at Gym B"}),
        )
        .await,
    )
    .await;
    let new_token = back["access_token"].as_str().unwrap().to_owned();
    assert_eq!(back["revoked_tokens"], 1);
    assert_eq!(back["other_records"], json!([squatter["resident_id"]]));
    assert!(
        back["sign_in_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/#access={new_token}"))
    );
    assert!(back["sign_in_svg"].as_str().unwrap().starts_with("<svg"));
    // The old token on the victim's (possibly lost) phone is dead; the new one works.
    assert_eq!(
        app.get("/v1/residents/me", &victim_token).await.status(),
        401
    );
    let me = json_ok(app.get("/v1/residents/me", &new_token).await).await;
    assert_eq!(me["id"], json!(victim_rid));

    // Retiring the squatter's record waits for a second, independent official.
    let approval = back["approval"].clone();
    assert_eq!(approval["kind"], "duplicates");
    assert_eq!(approval["status"], "pending");
    assert_problem(
        app.post(
            &format!("/v1/approvals/{}/approve", approval["id"].as_str().unwrap()),
            &first,
            &json!({}),
        )
        .await,
        403,
        "same_official",
    )
    .await;
    assert_eq!(
        app.get("/v1/residents/me", &squatter_token).await.status(),
        200
    );
    app.approve(&second, &approval).await;

    // The squatter is out: token, record and code.
    assert_eq!(
        app.get("/v1/residents/me", &squatter_token).await.status(),
        401
    );
    assert_eq!(
        app.get(
            &format!(
                "/v1/residents/{}",
                squatter["resident_id"].as_str().unwrap()
            ),
            &first
        )
        .await
        .status(),
        404
    );
    let v = verify(&app, &staff, &squatter_code).await;
    assert_eq!(v["valid"], false);
    // The victim holds the document alone now.
    let v = verify(&app, &staff, &victim_code).await;
    assert_eq!(v["resident"]["document_disputed"], false, "{v}");
    let disputes = json_ok(app.get("/v1/residents/disputes", &first).await).await;
    assert!(
        disputes
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id_last4"] != json!(&victim_id[14..]))
    );
    let found = json_ok(
        app.post(
            "/v1/residents/lookup",
            &first,
            &json!({"id_number": victim_id}),
        )
        .await,
    )
    .await;
    assert_eq!(found["records"][0]["standing"], "primary");
    assert_eq!(found["records"].as_array().unwrap().len(), 1);

    // Offline too: the squatter's screenshot is revoked in the next bundle (an urgent
    // rebuild, within seconds).
    let start = Instant::now();
    loop {
        let text = app
            .get("/v1/verifier/bundle", &staff)
            .await
            .text()
            .await
            .unwrap();
        let bundle = Bundle::from_json(&text).expect("a bundle");
        let now = chrono::Utc::now().timestamp() + 1;
        match safecode::token::offline::verify(&squatter_code, &bundle, now) {
            Outcome::Invalid { code: "revoked" } => break,
            other => assert!(start.elapsed() < Duration::from_secs(10), "{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every step is in the trail, and none of it holds the ID number.
    let actions = app.audit_actions().await;
    for a in [
        "resident.lookup",
        "resident.reclaim",
        "resident.retire_requested",
        "resident.retire_approve",
        "resident.retire",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let trail = json_ok(app.get("/v1/audit?limit=200", &first).await).await;
    assert!(!trail.to_string().contains(&victim_id));
}

/// A lost phone: the person has their ID card, the record has no rival. The take-back
/// revokes the old token and hands a new one; a retry with the same key is applied once.
#[tokio::test]
async fn a_take_back_without_rivals_replaces_the_token_once_per_key() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (rid, old) = app.registered().await;
    let path = format!("/v1/residents/{rid}/reclaim");
    let send = || {
        app.client
            .post(app.url(&path))
            .bearer_auth(&official)
            .header("Idempotency-Key", "lost-phone-1")
            .json(&json!({"id_card_checked": true}))
            .send()
    };
    let a = json_ok(send().await.unwrap()).await;
    let b = json_ok(send().await.unwrap()).await;
    assert_eq!(
        a["access_token"], b["access_token"],
        "the retry gets the same token"
    );
    assert_eq!(a["revoked_tokens"], 1);
    assert_eq!(b["revoked_tokens"], 1);
    assert!(a["approval"].is_null());
    assert_eq!(a["other_records"], json!([]));
    assert_eq!(app.get("/v1/residents/me", &old).await.status(), 401);
    let new = a["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/residents/me", new).await.status(), 200);
    let n = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "resident.reclaim")
        .count();
    assert_eq!(n, 1, "applied once");
    // The same key for another request is refused.
    let other = app
        .client
        .post(app.url(&path))
        .bearer_auth(&official)
        .header("Idempotency-Key", "lost-phone-1")
        .json(&json!({"id_card_checked": true, "reason": "different"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
}

/// Who may not: the resident, staff, and an official whose district the record is not in.
#[tokio::test]
async fn only_an_official_of_the_records_district_takes_it_back() {
    let app = spawn_app().await;
    let (rid, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, elsewhere) = app
        .create_user(
            "official",
            json!({"jurisdiction": {"type": "Polygon", "coordinates": [rect(121.0, 31.0, 122.0, 32.0)]}}),
        )
        .await;
    let body = json!({"id_card_checked": true});
    let path = format!("/v1/residents/{rid}/reclaim");
    assert_problem(app.post(&path, &resident, &body).await, 403, "forbidden").await;
    assert_problem(app.post(&path, &staff, &body).await, 403, "forbidden").await;
    assert_problem(
        app.post(&path, &elsewhere, &body).await,
        403,
        "outside_jurisdiction",
    )
    .await;
    for who in [&resident, &staff] {
        assert_problem(
            app.post(
                "/v1/residents/lookup",
                who,
                &json!({"id_number": new_id_number()}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        assert_eq!(app.get("/v1/residents/disputes", who).await.status(), 403);
    }
    // None of it changed the resident's access.
    assert_eq!(app.get("/v1/residents/me", &resident).await.status(), 200);
    // A malformed number is a 422, not a search.
    let official = app.official().await;
    assert_problem(
        app.post(
            "/v1/residents/lookup",
            &official,
            &json!({"id_number": "123"}),
        )
        .await,
        422,
        "invalid_id_number",
    )
    .await;
}

/// A record checked in at a shelter is not retired under the staff's feet.
#[tokio::test]
async fn retiring_a_record_with_an_open_stay_is_refused() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let shelter = json_ok(
        app.post(
            "/v1/shelters",
            &first,
            &json!({"name": "Gym B", "capacity": 10, "location": {"lat": 30.0, "lon": 120.0}}),
        )
        .await,
    )
    .await;
    let shelter_id = shelter["id"].as_str().unwrap().to_owned();
    let id = new_id_number();
    let mut a = resident_body();
    a["id_number"] = json!(id);
    let squatter: Value = json_ok(app.register(&a).await).await;
    let squatter_code = code_of(&app, squatter["access_token"].as_str().unwrap()).await;
    let admitted = app
        .post(
            &format!("/v1/shelters/{shelter_id}/checkins"),
            &first,
            &json!({"token": squatter_code}),
        )
        .await;
    assert_eq!(admitted.status(), 201, "{:?}", admitted.text().await);
    let victim: Value = json_ok(app.register(&a).await).await;
    let back = json_ok(
        app.post(
            &format!(
                "/v1/residents/{}/reclaim",
                victim["resident_id"].as_str().unwrap()
            ),
            &first,
            &json!({"id_card_checked": true}),
        )
        .await,
    )
    .await;
    let res = app
        .post(
            &format!(
                "/v1/approvals/{}/approve",
                back["approval"]["id"].as_str().unwrap()
            ),
            &second,
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "open_stay").await;
    // Nothing changed: the request still waits, the squatter's record still stands.
    let found = json_ok(
        app.post("/v1/residents/lookup", &first, &json!({"id_number": id}))
            .await,
    )
    .await;
    assert_eq!(found["records"].as_array().unwrap().len(), 2);
}
