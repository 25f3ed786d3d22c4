//! A resident's trail: every change to their colour and details with when, why and by which
//! role, whether a second official approved, their shelter stays and relief, and who looked
//! at their record, in Chinese and English; the same for an official within their district.

use crate::helpers::*;
use serde_json::{Value, json};

fn texts(trail: &Value, lang: &str) -> Vec<String> {
    trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[lang].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_resident_reads_their_season_in_plain_words_and_sees_who_looked() {
    let app = spawn_app().await;
    let official = app.official().await;
    let second = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (id, me) = resident_at(&app, 30.05, 120.05, &[]).await;

    // Details changed by an official; an override two officials put in force.
    let res = app
        .patch(
            &format!("/v1/residents/{id}"),
            &official,
            &json!({"address": "义桥镇新街 8 号", "reason": "moved"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let o = request_override(&app, &official, &id, "red").await;
    app.approve(&second, &o).await;
    // An order over their zone, then lifted.
    let order: Value = json_ok(
        app.order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "Levee breach"}),
        )
        .await,
    )
    .await;
    let lifted = app
        .post(
            &format!("/v1/orders/{}/lift", order["id"].as_str().unwrap()),
            &official,
            &json!({}),
        )
        .await;
    assert_eq!(lifted.status(), 200, "{:?}", lifted.text().await);
    // A stay and relief.
    let shelter: Value = json_ok(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "义桥中学", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 10}),
        )
        .await,
    )
    .await;
    let s = shelter["id"].as_str().unwrap();
    let code = code_of(&app, &me).await;
    let stay: Value = json_ok(
        app.post(
            &format!("/v1/shelters/{s}/checkins"),
            &official,
            &json!({"token": code}),
        )
        .await,
    )
    .await;
    let item: Value = json_ok(
        app.post(
            "/v1/relief-items",
            &official,
            &json!({"name": "饮用水", "unit": "bottle", "quota": 4, "per": "person"}),
        )
        .await,
    )
    .await;
    let given = app
        .post(
            &format!("/v1/shelters/{s}/distributions"),
            &official,
            &json!({"token": code, "item_id": item["id"], "quantity": 2}),
        )
        .await;
    assert_eq!(given.status(), 201, "{:?}", given.text().await);
    let out = app
        .post(
            &format!("/v1/shelters/{s}/checkouts"),
            &official,
            &json!({"stay_id": stay["stay_id"], "reason": "returned_home"}),
        )
        .await;
    assert_eq!(out.status(), 200);
    // An official looks at the record.
    assert_eq!(
        app.get(&format!("/v1/residents/{id}"), &official)
            .await
            .status(),
        200
    );

    let trail = json_ok(app.get("/v1/residents/me/history", &me).await).await;
    let en = texts(&trail, "en");
    let zh = texts(&trail, "zh");
    let has = |all: &[String], part: &str| all.iter().any(|t| t.contains(part));
    for part in [
        "Registered",
        "Details changed: address",
        "Colour set to red by an override (category: hazard_at_home), approved by a second official",
        "Yiqiao: mandatory evacuation order issued (Levee breach)",
        "Yiqiao: mandatory evacuation order lifted",
        "Admitted to 义桥中学",
        "Left 义桥中学 (returned_home)",
        "Received 2 bottle 饮用水 at 义桥中学",
        "Your record was looked at",
    ] {
        assert!(has(&en, part), "{part:?} missing from {en:#?}");
    }
    for part in [
        "登记",
        "资料已更改：地址",
        "第二名官员已批准",
        "强制转移令",
        "入住义桥中学",
        "您的记录被查看",
    ] {
        assert!(has(&zh, part), "{part:?} missing from {zh:#?}");
    }
    let entries = trail["entries"].as_array().unwrap();
    // Newest first; roles, never names or ids of officials.
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    for e in entries {
        assert!(
            ["resident", "staff", "official", "admin", "system"]
                .contains(&e["by"].as_str().unwrap()),
            "{e}"
        );
    }
    let override_entry = entries
        .iter()
        .find(|e| e["en"].as_str().unwrap().starts_with("Colour set to red"))
        .unwrap();
    assert_eq!(override_entry["second_official"], "approved");
    assert_eq!(override_entry["by"], "official");
    let looked = entries.iter().filter(|e| e["kind"] == "looked_at").count();
    assert_eq!(looked, 1);

    // An official reads the same trail; that read is audited and shows as a look.
    let theirs = json_ok(
        app.get(&format!("/v1/residents/{id}/history"), &official)
            .await,
    )
    .await;
    assert_eq!(texts(&theirs, "en").len(), en.len() + 1);
    let again = json_ok(app.get("/v1/residents/me/history", &me).await).await;
    assert_eq!(
        again["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "looked_at")
            .count(),
        2
    );
    // Another resident's trail is not mine to read.
    let (_, other) = resident_at(&app, 30.06, 120.06, &[]).await;
    let theirs = json_ok(app.get("/v1/residents/me/history", &other).await).await;
    assert!(!texts(&theirs, "en").iter().any(|t| t.contains("义桥中学")));
    assert_eq!(
        app.get(&format!("/v1/residents/{id}/history"), &other)
            .await
            .status(),
        403
    );
}

/// A resident takes away everything held about them, and nothing about anyone else.
#[tokio::test]
async fn a_resident_downloads_everything_held_about_them() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, me) = resident_at(&app, 30.05, 120.05, &["elderly"]).await;
    let mut other = resident_body();
    other["name"] = json!("李四邻");
    other["phone"] = json!("13800000009");
    other["location"] = json!({"lat": 30.06, "lon": 120.06});
    assert_eq!(app.register(&other).await.status(), 201);
    let sent: Value = json_ok(
        app.post("/v1/alerts", &official, &alert_form(json!([zone])))
            .await,
    )
    .await;
    let id = sent["id"].as_str().unwrap();
    app.post(&format!("/v1/alerts/{id}/resend"), &official, &json!({}))
        .await;
    let report = app
        .post(
            "/v1/reports",
            &me,
            &json!({"location": {"lat": 30.05, "lon": 120.05}, "category": "flooding",
                    "text": "Water in the lane behind the school"}),
        )
        .await;
    assert_eq!(report.status(), 201, "{:?}", report.text().await);
    let appeal = app
        .post(
            "/v1/residents/me/appeals",
            &me,
            &json!({"text": "I moved to my daughter's last week"}),
        )
        .await;
    assert!(appeal.status().is_success(), "{:?}", appeal.text().await);

    let res = app.get("/v1/residents/me/data", &me).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let data: Value = res.json().await.unwrap();
    assert_eq!(data["profile"]["name"], "王小明");
    assert_eq!(data["profile"]["phone"], "+8613912345678");
    assert_eq!(data["profile"]["needs"], json!(["elderly"]));
    assert_eq!(data["language"], "zh");
    assert_eq!(data["alerts"][0]["id"], json!(id));
    assert_eq!(data["alerts"][0]["messages"][0][0], "sms");
    assert_eq!(
        data["reports"][0]["text"],
        "Water in the lane behind the school"
    );
    assert_eq!(data["reports"][0]["has_photo"], false);
    assert_eq!(
        data["appeals"][0]["text"],
        "I moved to my daughter's last week"
    );
    assert!(
        data["trail"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["en"] == "Registered")
    );
    let text = data.to_string();
    assert!(!text.contains("李四邻") && !text.contains("13800000009"));
    assert!(data["not_held"][0].as_str().unwrap().contains("last four"));
}

/// On the resident page: the trail and the data, in a real browser.
#[tokio::test]
async fn the_resident_page_shows_the_trail_and_the_data() {
    let app = spawn_app().await;
    let b = crate::browser::Browser::start(&[]).await;
    b.goto(&app.url("/")).await;
    b.wait_for("#register:not([hidden])").await;
    b.fill("#r-name", "李四").await;
    b.fill("#r-id", &new_id_number()).await;
    b.click("#register button[type=submit]").await;
    b.until("document.querySelector('#band .band') !== null", "the code")
        .await;
    b.click("#show-history").await;
    b.until(
        "document.querySelectorAll('#history li').length > 0",
        "the trail",
    )
    .await;
    let shown = b.text("#history").await;
    assert!(
        shown.contains("Registered") || shown.contains("登记"),
        "{shown}"
    );
    b.click("#show-data").await;
    b.until(
        "document.querySelectorAll('#my-data dd').length > 0",
        "my data",
    )
    .await;
    assert!(b.text("#my-data").await.contains("李四"));

    // Correcting details: the form starts from what is held and sends what changed.
    let name = b
        .js("return document.querySelector('#c-name').value", vec![])
        .await;
    assert_eq!(name, "李四");
    b.fill("#c-phone", "13800001111").await;
    b.fill("#c-address", "义桥镇新街 9 号").await;
    b.click("#correct button[type=submit]").await;
    let token = b
        .js(
            "return JSON.parse(localStorage.getItem('sc_resident')).token",
            vec![],
        )
        .await;
    let token = token.as_str().unwrap().to_owned();
    let mut me = Value::Null;
    for _ in 0..100 {
        me = json_ok(app.get("/v1/residents/me", &token).await).await;
        if me["phone"]
            .as_str()
            .is_some_and(|p| p.ends_with("13800001111"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        me["phone"], "+8613800001111",
        "stored in its international form"
    );
    assert_eq!(me["address"], "义桥镇新街 9 号");
    assert_eq!(me["name"], "李四", "what was not changed stays");
    b.close().await;
}

/// "Delete me": done at once when nothing needs the record, else queued with the reason and
/// carried out when it clears; the person's details leave the tables, their devices are
/// signed out, and the audit chain says only that a deletion happened.
#[tokio::test]
async fn a_deletion_is_done_when_nothing_needs_the_record_and_waits_when_something_does() {
    let app = spawn_app().await;
    let official = app.official().await;
    let register = |name: &'static str, phone: &'static str, id_number: String| {
        let app = &app;
        async move {
            let mut body = resident_body();
            body["name"] = json!(name);
            body["phone"] = json!(phone);
            body["id_number"] = json!(id_number);
            body["location"] = json!({"lat": 30.05, "lon": 120.05});
            let v: Value = json_ok(app.register(&body).await).await;
            (
                v["resident_id"].as_str().unwrap().to_owned(),
                v["access_token"].as_str().unwrap().to_owned(),
            )
        }
    };
    let free_doc = new_id_number();
    let (_, free) = register("赵自由", "13811110001", free_doc.clone()).await;
    let (sheltered_id, sheltered) = register("钱安置", "13811110002", new_id_number()).await;
    let report = app
        .post(
            "/v1/reports",
            &free,
            &json!({"location": {"lat": 30.05, "lon": 120.05}, "category": "flooding",
                    "text": "赵自由 says the lane is under water"}),
        )
        .await;
    assert_eq!(report.status(), 201);

    // Nothing needs the first record: deleted at once, signed out.
    let res = app.delete("/v1/residents/me", &free).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["status"], "deleted");
    assert_eq!(app.get("/v1/residents/me", &free).await.status(), 401);

    // The second is in a shelter: queued, with the reason, still signed in.
    let shelter: Value = json_ok(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "School", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 10}),
        )
        .await,
    )
    .await;
    let s = shelter["id"].as_str().unwrap();
    let code = code_of(&app, &sheltered).await;
    let stay: Value = json_ok(
        app.post(
            &format!("/v1/shelters/{s}/checkins"),
            &official,
            &json!({"token": code}),
        )
        .await,
    )
    .await;
    let res = app.delete("/v1/residents/me", &sheltered).await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued["waiting_for"], json!(["stay"]));
    assert!(
        queued["en"]
            .as_str()
            .unwrap()
            .contains("checked in at a shelter")
    );
    assert_eq!(app.get("/v1/residents/me", &sheltered).await.status(), 200);
    let now = chrono::Utc::now();
    let carry = safecode::service::deletion::carry_out_queued;
    assert_eq!(carry(&app.ctx, now).await.unwrap(), 0, "still sheltered");
    let out = app
        .post(
            &format!("/v1/shelters/{s}/checkouts"),
            &official,
            &json!({"stay_id": stay["stay_id"], "reason": "returned_home"}),
        )
        .await;
    assert_eq!(out.status(), 200);
    assert_eq!(carry(&app.ctx, now).await.unwrap(), 1);
    assert_eq!(carry(&app.ctx, now).await.unwrap(), 0, "once");
    assert_eq!(app.get("/v1/residents/me", &sheltered).await.status(), 401);
    // The shelter's own history keeps its count, naming no one.
    let seen = app
        .get(&format!("/v1/residents/{sheltered_id}"), &official)
        .await;
    assert_eq!(seen.status(), 404);

    // Nothing of them is left in the tables that held it, nor in the audit chain.
    for (table, column) in [
        ("residents", "name"),
        ("residents", "phone"),
        ("reports", "text"),
        ("audit_log", "after"),
        ("audit_log", "before"),
    ] {
        for needle in ["赵自由", "钱安置", "13811110001", "13811110002"] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE '%{needle}%'");
            let n: i64 = safecode::on_db!(&app.ctx.db, |c| sqlx::query_scalar(
                sqlx::AssertSqlSafe(sql.clone())
            )
            .fetch_one(c)
            .await
            .unwrap());
            assert_eq!(n, 0, "{needle} in {table}.{column}");
        }
    }
    assert!(
        app.audit_actions()
            .await
            .contains(&"resident.delete".to_owned())
    );
    assert_eq!(app.audit_verify().await["ok"], true);
    // The same document may register again, as a new person.
    let mut again = resident_body();
    again["id_number"] = json!(free_doc);
    assert_eq!(app.register(&again).await.status(), 201);
}

/// A resident corrects their own name, phone and address; a change of needs that would make
/// their colour stricter is an official's to record (the approval rule), and nothing changes.
#[tokio::test]
async fn a_resident_corrects_their_details_but_not_into_a_stricter_colour() {
    let app = spawn_app().await;
    let (_, me) = resident_at(&app, 30.05, 120.05, &["elderly"]).await;
    let res = app
        .patch(
            "/v1/residents/me",
            &me,
            &json!({"name": "王晓明", "phone": "13700000001", "address": null, "needs": []}),
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let mine: Value = json_ok(app.get("/v1/residents/me", &me).await).await;
    assert_eq!(mine["name"], "王晓明");
    assert_eq!(mine["phone"], "+8613700000001");
    assert!(mine["address"].is_null());
    assert_eq!(mine["needs"], json!([]), "milder: applied");
    // Elderly again: red under an advisory where yellow was, so not theirs alone to record.
    let worse = app
        .patch(
            "/v1/residents/me",
            &me,
            &json!({"needs": ["elderly"], "phone": "13700000002"}),
        )
        .await;
    assert_problem(worse, 409, "needs_an_official").await;
    let mine: Value = json_ok(app.get("/v1/residents/me", &me).await).await;
    assert_eq!(mine["needs"], json!([]), "nothing changed");
    assert_eq!(mine["phone"], "+8613700000001", "not even the phone");
    assert_problem(
        app.patch("/v1/residents/me", &me, &json!({"flags": ["injured"]}))
            .await,
        422,
        "invalid_body",
    )
    .await;
    let trail = json_ok(app.get("/v1/residents/me/history", &me).await).await;
    let en = texts(&trail, "en");
    assert!(en.iter().any(|t| t == "Details changed: name"), "{en:?}");
    assert!(en.iter().any(|t| t.contains("phone")), "{en:?}");
    let by: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "facts")
        .map(|e| e["by"].as_str().unwrap())
        .collect();
    assert!(by.iter().all(|b| *b == "resident"), "{by:?}");
}
