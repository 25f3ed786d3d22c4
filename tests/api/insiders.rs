//! The safeguards against insiders (DESIGN.md, Safeguards; docs/threat-model.md), each tried
//! as the attack: the request sequence a dishonest official, admin, gateway operator or
//! someone with a copy of the database would send.

use crate::helpers::*;
use serde_json::{Value, json};

/// A district around the usual test square (lon 120.0–120.1, lat 30.0–30.1) and a little more.
fn district_here() -> Value {
    json!({"type": "Polygon", "coordinates": [rect(119.9, 29.9, 120.3, 30.3)]})
}

async fn mandatory_zone(app: &TestApp, official: &str) -> String {
    let zone = app.square_zone(official, "riverside").await;
    let res = app
        .order(
            official,
            &zone,
            &json!({"level": "mandatory", "reason": "dyke breach"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    zone
}

async fn resident_view(app: &TestApp, official: &str, id: &str) -> Value {
    app.get(&format!("/v1/residents/{id}"), official)
        .await
        .json()
        .await
        .unwrap()
}

async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let v: Value = app
        .get(&format!("/v1/audit?limit=1000&{query}"), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn one_official_cannot_turn_a_resident_red_by_moving_them_into_a_mandatory_zone() {
    let app = spawn_app().await;
    let mallory = app.official().await;
    let second = app.official().await;
    mandatory_zone(&app, &mallory).await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;

    // The Henan move: put a depositor's home inside the flood zone.
    let res = app
        .patch(
            &format!("/v1/residents/{r}"),
            &mallory,
            &json!({"location": {"lat": 30.05, "lon": 120.05}, "reason": "new address"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let pending: Value = res.json().await.unwrap();
    assert_eq!(pending["kind"], "facts");
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["resident_id"], r.as_str());
    assert_eq!(pending["change"]["colour_before"], "green");
    assert_eq!(pending["change"]["colour_after"], "red");
    assert_eq!(
        pending["change"]["facts"]["location"],
        json!({"lat": 30.05, "lon": 120.05})
    );
    // Nothing moved: not the colour, not the location, not the zone's members.
    let v = resident_view(&app, &mallory, &r).await;
    assert_eq!(v["colour"], "green");
    assert_eq!(v["location"], json!({"lat": 30.5, "lon": 120.5}));
    assert_eq!(v["zones"], json!([]));
    let approvals: Value = app
        .get("/v1/approvals?status=pending", &second)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        approvals
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == pending["id"]),
        "left where a second official sees it"
    );
    // Repeating it 1,317 times leaves 1,317 requests, not 1,317 red codes; approving one's
    // own is refused.
    assert_problem(
        app.post(
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &mallory,
            &json!({}),
        )
        .await,
        403,
        "same_official",
    )
    .await;
    assert_eq!(app.colour(&mallory, &r).await, "green");

    // A second official agrees: now it happens, and the trail names both.
    app.approve(&second, &pending).await;
    let v = resident_view(&app, &mallory, &r).await;
    assert_eq!(v["colour"], "red");
    assert_eq!(v["zones"].as_array().unwrap().len(), 1);
    let update = entries(
        &app,
        &format!("subject=resident:{r}&action=resident.update"),
    )
    .await
    .pop()
    .expect("the change is audited");
    assert!(update["actor"].as_str().unwrap().starts_with("official:"));
    assert!(update["after"]["requested_by"].is_string());
    assert!(update["after"]["approved_by"].is_string());
    assert_ne!(
        update["after"]["requested_by"],
        update["after"]["approved_by"]
    );
    assert_eq!(
        entries(
            &app,
            &format!("subject=resident:{r}&action=resident.update_requested")
        )
        .await
        .len(),
        1
    );

    // Moving them out again makes the colour milder: applied at once.
    let res = app
        .patch(
            &format!("/v1/residents/{r}"),
            &mallory,
            &json!({"location": {"lat": 30.5, "lon": 120.5}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&mallory, &r).await, "green");
}

#[tokio::test]
async fn one_official_cannot_worsen_a_colour_with_needs_or_flags_but_milder_changes_apply_at_once()
{
    let app = spawn_app().await;
    let mallory = app.official().await;
    let second = app.official().await;
    let zone = app.square_zone(&mallory, "low town").await;
    app.order(
        &mallory,
        &zone,
        &json!({"level": "advisory", "reason": "rain"}),
    )
    .await;
    let (inside, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (outside, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    assert_eq!(app.colour(&mallory, &inside).await, "yellow");

    // A flag inside an advisory zone: yellow either way today, but it outlives the advisory.
    let res = app
        .patch(
            &format!("/v1/residents/{inside}"),
            &mallory,
            &json!({"flags": ["injured"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let hidden: Value = res.json().await.unwrap();
    assert_eq!(hidden["change"]["colour_before"], "yellow");
    assert_eq!(hidden["change"]["colour_after"], "yellow");
    assert_eq!(hidden["change"]["worse"], "in_other_situations");
    // Needs inside an advisory zone: yellow → red.
    let res = app
        .patch(
            &format!("/v1/residents/{inside}"),
            &mallory,
            &json!({"needs": ["disabled"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let needs: Value = res.json().await.unwrap();
    // A flag anywhere: green → yellow.
    let res = app
        .patch(
            &format!("/v1/residents/{outside}"),
            &mallory,
            &json!({"flags": ["quarantine"], "phone": "+8613800000000"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let flag: Value = res.json().await.unwrap();
    assert_eq!(
        flag["change"]["facts"]["phone"], "changed",
        "the request shows that contact details change, never their values"
    );
    assert!(!flag.to_string().contains("13800000000"));
    let v = resident_view(&app, &mallory, &outside).await;
    assert_eq!(v["flags"], json!([]));
    assert_ne!(
        v["phone"], "+8613800000000",
        "the whole change waits, contact details too"
    );
    assert_eq!(app.colour(&mallory, &inside).await, "yellow");
    assert_eq!(app.colour(&mallory, &outside).await, "green");

    // Rejected: nothing ever happens. Approved: it does.
    let res = app
        .post(
            &format!("/v1/approvals/{}/reject", flag["id"].as_str().unwrap()),
            &second,
            &json!({"reason": "no quarantine order"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&mallory, &outside).await, "green");
    app.approve(&second, &needs).await;
    assert_eq!(app.colour(&mallory, &inside).await, "red");

    // Changes that leave the colour as it is, or make it milder, apply at once.
    let res = app
        .patch(
            &format!("/v1/residents/{outside}"),
            &mallory,
            &json!({"address": "5 Hill Road", "location": {"lat": 30.51, "lon": 120.51}}),
        )
        .await;
    assert_eq!(res.status(), 200, "green stays green");
    let res = app
        .patch(
            &format!("/v1/residents/{inside}"),
            &mallory,
            &json!({"needs": []}),
        )
        .await;
    assert_eq!(res.status(), 200, "red to yellow is milder");
    assert_eq!(app.colour(&mallory, &inside).await, "yellow");
}

#[tokio::test]
async fn a_rule_set_that_drops_every_red_rule_waits_for_a_second_province_official() {
    let app = spawn_app().await;
    let (_, mallory) = app.create_user("official", json!({})).await;
    let district = app
        .create_user("official", json!({"jurisdiction": district_here()}))
        .await
        .1;
    let (_, second) = app.create_user("official", json!({})).await;
    let zone = mandatory_zone(&app, &second).await;
    let (r, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    assert_eq!(app.colour(&second, &r).await, "red");

    // Every mandatory order only makes people yellow: it moves nobody *today*.
    let toothless = json!({"name": "calm", "rules": [
        {"id": "mandatory_not_transferred", "if": {"==": [{"var": "order_level"}, "mandatory"]}, "colour": "yellow", "reason": {"en": "Be ready.", "zh": "请做好准备。"}}
    ]});
    let created: Value = app
        .post("/v1/rules", &mallory, &toothless)
        .await
        .json()
        .await
        .unwrap();
    let version = created["version"].as_i64().unwrap();
    assert_eq!(created["active"], false, "creating is only a draft");
    // A district official may draft but not propose policy for the province.
    assert_problem(
        app.post(
            &format!("/v1/rules/{version}/activate"),
            &district,
            &json!({}),
        )
        .await,
        403,
        "outside_jurisdiction",
    )
    .await;
    let res = app
        .post(
            &format!("/v1/rules/{version}/activate"),
            &mallory,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let pending: Value = res.json().await.unwrap();
    assert_eq!(pending["kind"], "rules");
    assert_eq!(pending["rule_version"], version);
    let removed: Vec<&str> = pending["change"]["rules"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&"advisory_needs_help"), "{pending}");
    assert_eq!(
        pending["change"]["rules"]["changed"][0]["id"],
        "mandatory_not_transferred"
    );
    assert_eq!(pending["change"]["preview"]["to_yellow"], 1);
    let rules: Value = json_ok(app.get("/v1/rules", &mallory).await).await;
    assert_eq!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["active"] == true)
            .unwrap()["version"],
        1
    );
    assert_eq!(app.colour(&second, &r).await, "red", "nothing changed yet");

    // The proposer does not approve; neither does the admin who created the proposer's
    // account; nor an official with a district.
    for (who, code) in [
        (&mallory, "same_official"),
        (&app.admin_token, "not_independent"),
        (&district, "outside_jurisdiction"),
    ] {
        assert_problem(
            app.post(
                &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
                who,
                &json!({}),
            )
            .await,
            403,
            code,
        )
        .await;
    }
    app.approve(&second, &pending).await;
    assert_eq!(app.colour(&second, &r).await, "yellow");

    // Rolling back to version 1 is a policy change too.
    let res = app.post("/v1/rules/1/activate", &second, &json!({})).await;
    assert_eq!(res.status(), 202);
    let back: Value = res.json().await.unwrap();
    assert_eq!(back["change"]["rollback"], true);
    assert_eq!(app.colour(&second, &r).await, "yellow");
    app.approve(&mallory, &back).await;
    assert_eq!(app.colour(&second, &r).await, "red");
    let _ = zone;
}

#[tokio::test]
async fn a_district_official_reads_and_writes_only_inside_their_district() {
    let app = spawn_app().await;
    let province = app.official().await;
    let local = app
        .create_user("official", json!({"jurisdiction": district_here()}))
        .await
        .1;
    // Two districts' worth of people, alerts, reports and appeals.
    let here_zone = app.square_zone(&province, "here").await;
    let there_zone = app
        .zone(
            &province,
            &feature(
                "there",
                json!({"type": "Polygon", "coordinates": [rect(121.0, 31.0, 121.1, 31.1)]}),
            ),
        )
        .await;
    let (here, here_token) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (there, there_token) = resident_at(&app, 31.05, 121.05, &[]).await;
    let alert = |zone: &str| {
        json!({"zones": [zone], "headline": "Flood", "event": "Flood", "description": "Rising.",
               "instruction": "Leave.", "response_type": "Evacuate", "urgency": "Immediate",
               "severity": "Extreme", "certainty": "Observed"})
    };
    let here_alert: Value = app
        .post("/v1/alerts", &province, &alert(&here_zone))
        .await
        .json()
        .await
        .unwrap();
    let there_alert: Value = app
        .post("/v1/alerts", &province, &alert(&there_zone))
        .await
        .json()
        .await
        .unwrap();
    for token in [&here_token, &there_token] {
        app.post(
            "/v1/residents/me/appeals",
            token,
            &json!({"text": "I am safe upstairs"}),
        )
        .await;
    }
    let report = |lat: f64, lon: f64| json!({"category": "flooding", "text": "Water over the road", "location": {"lat": lat, "lon": lon}});
    let here_report: Value = app
        .post("/v1/reports", &here_token, &report(30.05, 120.05))
        .await
        .json()
        .await
        .unwrap();
    let there_report: Value = app
        .post("/v1/reports", &there_token, &report(31.05, 121.05))
        .await
        .json()
        .await
        .unwrap();
    // A change about the far resident, with locations in its trail.
    let res = app
        .patch(
            &format!("/v1/residents/{there}"),
            &province,
            &json!({"location": {"lat": 31.06, "lon": 121.06}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let expires = chrono::Utc::now() + chrono::Duration::days(2);
    for id in [&here, &there] {
        let res = app
            .post(&format!("/v1/residents/{id}/overrides"), &province, &json!({"colour": "yellow", "reason_code": "other", "reason": "check", "expires_at": expires}))
            .await;
        assert_eq!(res.status(), 201);
    }

    let text = |res: reqwest::Response| async move { res.text().await.unwrap() };
    // Lists show their own district's and nothing of the other.
    for path in [
        "/v1/alerts",
        "/v1/appeals",
        "/v1/approvals",
        "/v1/reports",
        "/v1/audit?limit=1000",
        "/v1/zones",
    ] {
        let mine = text(app.get(path, &local).await).await;
        let all = text(app.get(path, &province).await).await;
        for far in [
            there.as_str(),
            there_alert["id"].as_str().unwrap(),
            there_report["id"].as_str().unwrap(),
            there_zone.as_str(),
        ] {
            assert!(
                !mine.contains(far),
                "{path} shows {far} outside the district"
            );
        }
        assert!(
            all.contains(&there)
                || all.contains(there_alert["id"].as_str().unwrap())
                || all.contains(there_report["id"].as_str().unwrap())
                || all.contains(&there_zone),
            "{path}: the province sees the far district (so the check above means something)"
        );
        assert!(
            [
                here.as_str(),
                here_alert["id"].as_str().unwrap(),
                here_report["id"].as_str().unwrap(),
                here_zone.as_str(),
            ]
            .iter()
            .any(|near| mine.contains(near)),
            "{path} shows the district its own"
        );
    }
    let trail = text(app.get("/v1/audit?limit=1000", &local).await).await;
    assert!(
        !trail.contains("31.06"),
        "no location from another district"
    );

    // Items and writes outside are refused.
    let there_alert_id = there_alert["id"].as_str().unwrap();
    let there_report_id = there_report["id"].as_str().unwrap();
    for res in [
        app.get(&format!("/v1/alerts/{there_alert_id}"), &local)
            .await,
        app.get(&format!("/v1/alerts/{there_alert_id}/recipients"), &local)
            .await,
        app.post(
            &format!("/v1/alerts/{there_alert_id}/resend"),
            &local,
            &json!({}),
        )
        .await,
        app.get(&format!("/v1/reports/{there_report_id}/photo"), &local)
            .await,
        app.patch(
            &format!("/v1/reports/{there_report_id}"),
            &local,
            &json!({"status": "verified"}),
        )
        .await,
        app.get(&format!("/v1/zones/{there_zone}"), &local).await,
    ] {
        assert_problem(res, 403, "outside_jurisdiction").await;
    }
    // Their own district works.
    let here_alert_id = here_alert["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/alerts/{here_alert_id}/recipients"), &local)
            .await
            .status(),
        200
    );
    let res = app
        .patch(
            &format!("/v1/reports/{}", here_report["id"].as_str().unwrap()),
            &local,
            &json!({"status": "verified"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    // An import registers people inside the district only.
    let csv = format!(
        "name,id_number,lat,lon\nLin Hua,{},30.05,120.05\nWang Fang,{},31.05,121.05\nZhao Lei,{},,\n",
        new_id_number(),
        new_id_number(),
        new_id_number()
    );
    let before = app.resident_count().await;
    let res = app
        .client
        .post(app.url("/v1/residents/import"))
        .bearer_auth(&local)
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["imported"], 1);
    assert_eq!(report["rejected"], 2);
    let codes: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["outside_jurisdiction", "outside_jurisdiction"]);
    assert_eq!(app.resident_count().await, before + 1);
}

#[tokio::test]
async fn a_jurisdiction_that_crosses_itself_is_refused_when_the_account_is_made() {
    let app = spawn_app().await;
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.5, 30.5], [120.5, 30.0], [120.0, 30.5], [120.0, 30.0]]]});
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            &json!({"role": "official", "name": "Zhou", "jurisdiction": bow_tie}),
        )
        .await;
    let p = assert_problem(res, 422, "invalid_jurisdiction").await;
    assert_eq!(p["field"], "jurisdiction");
}

#[tokio::test]
async fn the_gateway_drains_the_outbox_and_can_do_nothing_else() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "z").await;
    let (r, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    let sent: Value = app
        .post("/v1/alerts", &official, &json!({"zones": [zone], "headline": "Flood", "event": "Flood", "description": "Rising.",
               "instruction": "Leave.", "response_type": "Evacuate", "urgency": "Immediate",
               "severity": "Extreme", "certainty": "Observed"}))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post(
            &format!("/v1/alerts/{}/resend", sent["id"].as_str().unwrap()),
            &official,
            &json!({"channels": ["sms"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let gateway = app.gateway().await;
    let sms: Value = app
        .get("/v1/outbox?channel=sms", &gateway)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sms.as_array().unwrap().len(), 1);
    let id = sms[0]["id"].as_i64().unwrap();
    assert_eq!(
        app.post(&format!("/v1/outbox/{id}/delivered"), &gateway, &json!({}))
            .await
            .status(),
        204
    );
    // Whoever runs the gateway can do nothing else.
    let attempts = [
        app.get(&format!("/v1/residents/{r}"), &gateway).await,
        app.post(
            "/v1/users",
            &gateway,
            &json!({"role": "official", "name": "Me again"}),
        )
        .await,
        app.post("/v1/keys/rotate", &gateway, &json!({})).await,
        app.get("/v1/approvals", &gateway).await,
        app.get("/v1/audit", &gateway).await,
        app.get("/v1/alerts", &gateway).await,
        app.get("/v1/shelters", &gateway).await,
        app.get("/v1/verifier/bundle", &gateway).await,
    ];
    for res in attempts {
        assert_problem(res, 403, "forbidden").await;
    }
    // And the admin no longer reads the outbox.
    assert_problem(
        app.get("/v1/outbox?channel=sms", &app.admin_token).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn two_accounts_of_one_person_do_not_make_two_officials() {
    let (mut settings, dir) = test_settings().await;
    settings.approver_cooling_off_hours = 24;
    let app = spawn_with(settings, dir).await;
    // The operator's accounts (command line) are vouched for by whoever holds the server.
    let operator_official = {
        let ctx = &app.ctx;
        let form = safecode::service::users::NewUserForm {
            role: "official".into(),
            name: "Operator's official".into(),
            shelter_ids: vec![],
            jurisdiction: None,
            login: None,
        };
        safecode::service::users::create(ctx, safecode::service::users::Creator::Operator, &form)
            .await
            .unwrap()
            .token
            .unwrap()
    };
    // A dishonest admin mints two officials, asks with one and approves with the other.
    let (sock, sock_token) = app.create_user("official", json!({})).await;
    let (_, puppet) = app.create_user("official", json!({})).await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let expires = chrono::Utc::now() + chrono::Duration::days(2);
    let req: Value = app
        .post(&format!("/v1/residents/{r}/overrides"), &sock_token, &json!({"colour": "red", "reason_code": "other", "reason": "troublemaker", "expires_at": expires}))
        .await
        .json()
        .await
        .unwrap();
    let approve = |who: String| {
        let app = &app;
        let id = req["approval_id"].as_str().unwrap().to_owned();
        async move {
            app.post(&format!("/v1/approvals/{id}/approve"), &who, &json!({}))
                .await
        }
    };
    let p = assert_problem(approve(puppet.clone()).await, 403, "not_independent").await;
    assert!(p["detail"].as_str().unwrap().contains("cooling-off"));
    assert_eq!(app.colour(&operator_official, &r).await, "green");
    // The account creation itself is in the trail, under the admin who did it.
    let made = entries(&app, "action=user.create").await;
    assert!(
        made.iter()
            .any(|e| e["subject"] == format!("official:{sock}")
                && e["actor"].as_str().unwrap().starts_with("admin:")),
        "{made:?}"
    );
    // An established official (made by the operator) is a second person.
    let res = approve(operator_official.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&operator_official, &r).await, "red");

    // Once past the cooling-off, the puppet may decide others' requests, but never those of
    // the account that created it, nor may an account decide for an account it created.
    safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query("UPDATE users SET created_at = $1")
            .bind(chrono::Utc::now() - chrono::Duration::days(2))
            .execute(c)
            .await
            .unwrap();
    });
    let (r2, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let req2: Value = app
        .post(&format!("/v1/residents/{r2}/overrides"), &sock_token, &json!({"colour": "yellow", "reason_code": "other", "reason": "check", "expires_at": expires}))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post(
            &format!(
                "/v1/approvals/{}/approve",
                req2["approval_id"].as_str().unwrap()
            ),
            &puppet,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "two established officials");
    let rules: Value = app
        .post(
            "/v1/rules",
            &sock_token,
            &serde_json::from_str::<Value>(include_str!("../../fixtures/rules/default.json"))
                .unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    let pending: Value = app
        .post(
            &format!("/v1/rules/{}/activate", rules["version"]),
            &sock_token,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let p = assert_problem(
        app.post(
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({}),
        )
        .await,
        403,
        "not_independent",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("created"));
}

#[tokio::test]
async fn a_desk_scan_shows_a_reason_category_never_the_officials_note() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (r, token) = resident_at(&app, 30.5, 120.5, &[]).await;
    let expires = chrono::Utc::now() + chrono::Duration::days(2);
    let note = "diabetic, insulin in the fridge, son abroad";
    let req: Value = app
        .post(&format!("/v1/residents/{r}/overrides"), &first, &json!({"colour": "red", "reason_code": "medical", "reason": note, "expires_at": expires}))
        .await
        .json()
        .await
        .unwrap();
    app.approve(&second, &req).await;
    let code: Value = app
        .get("/v1/residents/me/code", &token)
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post("/v1/verify", &staff, &json!({"token": code["token"]}))
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(!body.contains("insulin"), "{body}");
    assert!(
        !body.contains("medical"),
        "not even the reason code: {body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["current_colour"], "red");
    assert_eq!(v["reasons"][0]["category"], "individual_decision");
    assert!(!v["reasons"][0]["text"].as_str().unwrap().is_empty());
    // A rule-based colour is shown with its category and the rule set's own words.
    let zone = app.square_zone(&first, "z").await;
    app.order(
        &first,
        &zone,
        &json!({"level": "mandatory", "reason": "breach"}),
    )
    .await;
    let (_, t2) = resident_at(&app, 30.05, 120.05, &[]).await;
    let code: Value = app
        .get("/v1/residents/me/code", &t2)
        .await
        .json()
        .await
        .unwrap();
    let v: Value = app
        .post("/v1/verify", &staff, &json!({"token": code["token"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["reasons"][0]["category"], "evacuation_order");
    // The resident and officials still read the note: it is about them / theirs to decide.
    let me: Value = app
        .get("/v1/residents/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["reasons"][0]["text"], note);
}

/// Rewrites entry `seq` (its reason) and recomputes every hash after it and the head, as
/// someone with write access to the database and the source code could.
async fn rewrite_history(app: &TestApp, seq: i64, reason: &str) {
    use safecode::domain::ChainHash;
    let entries = safecode::store::audit::page(&app.ctx.db, 0, 100_000)
        .await
        .unwrap();
    let mut prev = ChainHash::GENESIS;
    let mut rows = Vec::new();
    for mut e in entries {
        if e.record.seq == seq {
            e.record.reason = Some(reason.to_owned());
        }
        let hash = e.record.chain_hash(&prev);
        rows.push((e.record.seq, e.record.reason.clone(), prev.0, hash.0));
        prev = hash;
    }
    app.tamper_with_audit_log("SELECT 1").await;
    safecode::on_db!(&app.ctx.db, |c| {
        for (seq, reason, prev, hash) in &rows {
            sqlx::query(
                "UPDATE audit_log SET reason = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
            )
            .bind(reason)
            .bind(&prev[..])
            .bind(&hash[..])
            .bind(seq)
            .execute(c)
            .await
            .unwrap();
        }
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&prev.0[..])
            .execute(c)
            .await
            .unwrap();
    });
}

/// The head signed once the chain holds `seq` entries (it is signed every second here).
async fn head_covering(app: &TestApp, seq: i64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let res = app
            .client
            .get(app.url("/v1/audit/head"))
            .send()
            .await
            .unwrap();
        let head: Value = if res.status() == 404 {
            json!({"seq": 0}) // none signed yet
        } else {
            assert_eq!(res.status(), 200);
            res.json().await.unwrap()
        };
        if head["seq"].as_i64().unwrap() >= seq {
            return head;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no head signed: {head}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_rewritten_and_rehashed_audit_chain_is_caught_by_its_signed_head() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let req: Value = app
        .post(&format!("/v1/residents/{r}/overrides"), &first, &json!({"colour": "red", "reason_code": "other", "reason": "protest organiser", "expires_at": chrono::Utc::now() + chrono::Duration::days(2)}))
        .await
        .json()
        .await
        .unwrap();
    app.approve(&second, &req).await;
    let request_seq = entries(&app, "action=override.request").await[0]["seq"]
        .as_i64()
        .unwrap();
    let tip = app.audit_verify().await["entries"].as_i64().unwrap();

    // Anyone may keep the signed head; it verifies against the published keys.
    let head = head_covering(&app, tip).await;
    assert_eq!(head["hash"].as_str().unwrap().len(), 64);
    let keys: Value = app
        .client
        .get(app.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let known = safecode::token::known_from_jwks(&keys).unwrap();
    let cose = safecode::service::audit::decode_head(head["cose"].as_str().unwrap()).unwrap();
    let anchor = safecode::token::anchor::verify(&cose, |kid| {
        known
            .iter()
            .filter(|k| safecode::token::Kid::of(&k.key) == *kid)
            .collect()
    })
    .unwrap();
    assert_eq!(anchor.seq as i64, head["seq"].as_i64().unwrap());
    let v = app.audit_verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["heads_checked"].as_u64().unwrap() >= 1);
    let saved = app.dir.path().join("head.json");
    std::fs::write(&saved, head.to_string()).unwrap();

    // The cover-up: the request's reason rewritten, every hash after it recomputed, the
    // chain internally perfect.
    rewrite_history(&app, request_seq, "hazard at home").await;
    let v = app.audit_verify().await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_broken"]["seq"], head["seq"]);
    assert!(
        v["first_broken"]["problem"]
            .as_str()
            .unwrap()
            .contains("signed head")
    );

    // A thorough attacker also deletes the signed heads and starts a fresh server, which
    // knows no earlier head and signs the forged chain...
    safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query("DELETE FROM audit_anchors")
            .execute(c)
            .await
            .unwrap();
    });
    let fresh = another_server(&app).await;
    head_covering(&fresh, tip).await;
    // ...but a copy kept outside the database still catches it, over HTTP and at the
    // command line.
    let res = fresh
        .post(
            "/v1/audit/verify",
            &fresh.admin_token,
            &json!({"heads": [head["cose"]]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
    let out = std::process::Command::new(TestApp::binary())
        .args(["audit", "verify", "--head"])
        .arg(&saved)
        .env("DATABASE_URL", app.settings.database_url.as_str())
        .env("SAFECODE_KEYS_DIR", &app.settings.keys_dir)
        .env("RUST_LOG", "warn")
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed head"));
    // A forged head (not signed by the service's key) is refused outright.
    let res = fresh
        .post(
            "/v1/audit/verify",
            &fresh.admin_token,
            &json!({"heads": ["AAAA"]}),
        )
        .await;
    assert_problem(res, 422, "invalid_head").await;
}

#[tokio::test]
async fn an_untouched_chain_verifies_against_its_heads_at_the_command_line() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    app.patch(
        &format!("/v1/residents/{r}"),
        &official,
        &json!({"needs": ["elderly"]}),
    )
    .await;
    let tip = app.audit_verify().await["entries"].as_i64().unwrap();
    let head = head_covering(&app, tip).await;
    let saved = app.dir.path().join("head.json");
    std::fs::write(&saved, head.to_string()).unwrap();
    let out = std::process::Command::new(TestApp::binary())
        .args(["audit", "verify", "--head"])
        .arg(&saved)
        .env("DATABASE_URL", app.settings.database_url.as_str())
        .env("SAFECODE_KEYS_DIR", &app.settings.keys_dir)
        .env("RUST_LOG", "warn")
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["heads_checked"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn an_official_cannot_undo_a_residents_own_safe_word_or_check_them_out_from_afar() {
    let app = spawn_app().await;
    let mallory = app.official().await;
    let second = app.official().await;
    let zone = mandatory_zone(&app, &mallory).await;
    let (r, token) = resident_at(&app, 30.05, 120.05, &[]).await;
    let res = app
        .post(
            "/v1/residents/me/safe",
            &token,
            &json!({"status": "with_relatives"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&mallory, &r).await, "yellow");
    // "Reached by phone: at home" over their own "with relatives" makes them red.
    let res = app
        .post(
            &format!("/v1/residents/{r}/safe"),
            &mallory,
            &json!({"status": "at_home"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let pending: Value = res.json().await.unwrap();
    assert_eq!(pending["kind"], "facts");
    assert_eq!(pending["change"]["facts"]["safe"], "at_home");
    assert_eq!(app.colour(&mallory, &r).await, "yellow");
    app.approve(&second, &pending).await;
    assert_eq!(app.colour(&mallory, &r).await, "red");

    // Sheltered, then checked out by an official who never saw them leave.
    let shelter: Value = app
        .post(
            "/v1/shelters",
            &mallory,
            &json!({"name": "School", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 10}),
        )
        .await
        .json()
        .await
        .unwrap();
    let s = shelter["id"].as_str().unwrap();
    let (_, staff) = app.create_user("staff", json!({"shelter_ids": [s]})).await;
    let code: Value = app
        .get("/v1/residents/me/code", &token)
        .await
        .json()
        .await
        .unwrap();
    let admitted: Value = app
        .post(
            &format!("/v1/shelters/{s}/checkins"),
            &staff,
            &json!({"token": code["token"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app.colour(&mallory, &r).await, "yellow");
    let away = json!({"stay_id": admitted["stay_id"], "reason": "returned_home"});
    let res = app
        .post(&format!("/v1/shelters/{s}/checkouts"), &mallory, &away)
        .await;
    assert_problem(res, 409, "scan_required").await;
    assert_eq!(app.colour(&mallory, &r).await, "yellow");
    // The shelter's own staff, at the door, may.
    let res = app
        .post(&format!("/v1/shelters/{s}/checkouts"), &staff, &away)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&mallory, &r).await, "red");
    let _ = zone;
}

#[tokio::test]
async fn an_approval_of_something_that_changed_since_is_refused_as_stale() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    // A fact change asked, then the record changed: the request no longer says what it does.
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let res = app
        .patch(
            &format!("/v1/residents/{r}"),
            &first,
            &json!({"flags": ["injured"]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let asked: Value = res.json().await.unwrap();
    let res = app
        .patch(
            &format!("/v1/residents/{r}"),
            &first,
            &json!({"address": "3 Dyke Road"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", asked["id"].as_str().unwrap()),
            &second,
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "stale_request").await;
    assert_eq!(app.colour(&first, &r).await, "green");
    // Two proposals made against v1; the second approved first.
    let mut versions = Vec::new();
    for name in ["a", "b"] {
        let doc = json!({"name": name, "rules": [
            {"id": name, "if": {"in": ["medical", {"var": "needs"}]}, "colour": "yellow", "reason": {"en": "x", "zh": "x"}}
        ]});
        let v: Value = app
            .post("/v1/rules", &first, &doc)
            .await
            .json()
            .await
            .unwrap();
        versions.push(v["version"].as_i64().unwrap());
    }
    let mut pending = Vec::new();
    for v in &versions {
        let res = app
            .post(&format!("/v1/rules/{v}/activate"), &first, &json!({}))
            .await;
        assert_eq!(res.status(), 202);
        pending.push(res.json::<Value>().await.unwrap());
    }
    app.approve(&second, &pending[1]).await;
    let res = app
        .post(
            &format!(
                "/v1/approvals/{}/approve",
                pending[0]["id"].as_str().unwrap()
            ),
            &second,
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "stale_request").await;
    let rules: Value = json_ok(app.get("/v1/rules", &first).await).await;
    let active = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["active"] == true)
        .unwrap();
    assert_eq!(active["version"], versions[1], "the newer decision stands");
}

#[tokio::test]
async fn heads_go_on_being_signed_after_a_key_is_revoked() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let tip = app.audit_verify().await["entries"].as_i64().unwrap();
    let old = head_covering(&app, tip).await;
    // A new key signs from now on; the old one is revoked (as after a theft).
    let res = app
        .post("/v1/keys/rotate", &app.admin_token, &json!({}))
        .await;
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let out = std::process::Command::new(TestApp::binary())
        .args(["keys", "revoke", old["kid"].as_str().unwrap()])
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
    app.patch(
        &format!("/v1/residents/{r}"),
        &official,
        &json!({"address": "2 Hill Road"}),
    )
    .await;
    let tip = app.audit_verify().await["entries"].as_i64().unwrap();
    let new = head_covering(&app, tip).await;
    assert_ne!(new["kid"], old["kid"]);
    let v = app.audit_verify().await;
    assert_eq!(v["ok"], true, "{v}");
    // A head signed by the revoked key proves nothing any more.
    let res = app
        .post(
            "/v1/audit/verify",
            &app.admin_token,
            &json!({"heads": [old["cose"]]}),
        )
        .await;
    let p = assert_problem(res, 422, "invalid_head").await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"));
}
