//! Alerts end to end: recipients are the zone's residents when sent, acknowledgements are
//! counted exactly, and the people still to reach are listed for officials (JSON and CSV).

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn an_alert_reaches_the_zone_as_it_was_and_knows_who_read_it() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, a) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (_, b) = resident_at(&app, 30.06, 120.06, &[]).await;
    let (elderly_id, _) = resident_at(&app, 30.07, 120.07, &["elderly"]).await;
    let (_, outside) = resident_at(&app, 31.5, 121.5, &[]).await;

    let res = app
        .post("/v1/alerts", &official, &alert_form(json!([&zone])))
        .await;
    assert_eq!(res.status(), 201);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["recipients"], 3);
    let id = sent["id"].as_str().unwrap();
    // Moving in afterwards does not make one a recipient.
    let (_, late) = resident_at(&app, 30.05, 120.05, &[]).await;
    let inbox: Value = app
        .get("/v1/residents/me/alerts", &late)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox.as_array().unwrap().len(), 0);

    let inbox: Value = app
        .get("/v1/residents/me/alerts", &a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox[0]["id"], id);
    assert_eq!(inbox[0]["response_type"], "Evacuate");
    assert!(inbox[0]["acknowledged_at"].is_null());
    let first: Value = app
        .post(&format!("/v1/alerts/{id}/ack"), &a, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let again: Value = app
        .post(&format!("/v1/alerts/{id}/ack"), &a, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["acknowledged_at"], again["acknowledged_at"]);
    let theirs: Value = app
        .get("/v1/residents/me/alerts", &b)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        theirs[0]["acknowledged_at"].is_null(),
        "one's ack is not another's"
    );
    for who in [&outside, &late] {
        let res = app
            .post(&format!("/v1/alerts/{id}/ack"), who, &json!({}))
            .await;
        assert_problem(res, 404, "not_found").await;
    }

    let status: Value = app
        .get(&format!("/v1/alerts/{id}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &status["recipients"],
            &status["acknowledged"],
            &status["pending"]
        ),
        (&json!(3), &json!(1), &json!(2))
    );
    assert!(status["median_seconds_to_ack"].as_i64().unwrap() >= 0);
    assert_eq!(status["zones"][0]["name"], "Yiqiao");
    assert_eq!(status["zones"][0]["pending"], 2);

    let pending: Value = app
        .get(
            &format!("/v1/alerts/{id}/recipients?acknowledged=false"),
            &official,
        )
        .await
        .json()
        .await
        .unwrap();
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        pending[0]["resident_id"],
        elderly_id.as_str(),
        "vulnerable first"
    );
    assert!(pending[0]["phone"].is_string() && pending[0]["address"].is_string());
    let csv = app
        .client
        .get(app.url(&format!("/v1/alerts/{id}/recipients?acknowledged=false")))
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
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("resident_id,name,phone"));
    assert_eq!(lines.count(), 2);
    assert!(text.contains("elderly"));
    let reads = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "alert.recipients.read")
        .count();
    assert_eq!(reads, 2, "every download is audited");

    let (_, staff) = app.create_user("staff", json!({})).await;
    assert_problem(
        app.post("/v1/alerts", &staff, &alert_form(json!([&zone])))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/alerts/{id}"), &a).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/alerts/{id}/recipients"), &a).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn cap_values_are_checked_and_an_update_references_its_alert() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Z").await;
    let mut bad = alert_form(json!([&zone]));
    bad["urgency"] = json!("now");
    let p = assert_problem(
        app.post("/v1/alerts", &official, &bad).await,
        422,
        "invalid_urgency",
    )
    .await;
    assert_eq!(p["field"], "urgency", "{p}");
    let mut bad = alert_form(json!([&zone]));
    bad["zones"] = json!([uuid::Uuid::new_v4()]);
    assert_problem(
        app.post("/v1/alerts", &official, &bad).await,
        404,
        "not_found",
    )
    .await;

    let first: Value = app
        .post("/v1/alerts", &official, &alert_form(json!([&zone])))
        .await
        .json()
        .await
        .unwrap();
    let mut update = alert_form(json!([&zone]));
    update["msg_type"] = json!("Update");
    assert_eq!(
        app.post("/v1/alerts", &official, &update).await.status(),
        422
    );
    update["references"] = first["id"].clone();
    update["headline"] = json!("Breach widening: leave now");
    let res = app.post("/v1/alerts", &official, &update).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status: Value = app
        .get(&format!("/v1/alerts/{id}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["msg_type"], "Update");
    assert_eq!(status["references"], first["id"]);
    assert_eq!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "alert.send")
            .count(),
        2
    );
}

/// "I am safe with relatives" ends "transfer now" under the default rules, shows in the zone's
/// counts, acknowledges the latest alert; an official can record it after a phone call.
#[tokio::test]
async fn safe_with_relatives_moves_the_colour_the_counts_and_acknowledges() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "breach"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (a_id, a) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (b_id, b) = resident_at(&app, 30.06, 120.06, &[]).await;
    assert_eq!(app.colour(&official, &a_id).await, "red");
    let sent: Value = app
        .post("/v1/alerts", &official, &alert_form(json!([&zone])))
        .await
        .json()
        .await
        .unwrap();

    let res = app
        .post(
            "/v1/residents/me/safe",
            &a,
            &json!({"status": "with_relatives", "note": "at my sister's in Xiaoshan"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let safe: Value = res.json().await.unwrap();
    assert_eq!(safe["acknowledged_alert"], sent["id"]);
    assert_eq!(safe["colour"], "yellow");
    assert_eq!(app.colour(&official, &a_id).await, "yellow");
    let zones: Value = json_ok(app.get("/v1/zones", &official).await).await;
    let props = &zones["features"][0]["properties"];
    assert_eq!(
        (
            &props["residents"],
            &props["safe_with_relatives"],
            &props["not_reached"]
        ),
        (&json!(2), &json!(1), &json!(1)),
        "{props}"
    );

    // At home is not away from the flood: still red, but the alert counts as read.
    let res = app
        .post(
            &format!("/v1/residents/{b_id}/safe"),
            &official,
            &json!({"status": "at_home"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rec: Value = res.json().await.unwrap();
    assert_eq!(rec["colour"], "red");
    let status: Value = app
        .get(
            &format!("/v1/alerts/{}", sent["id"].as_str().unwrap()),
            &official,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["acknowledged"], 2);
    assert_problem(
        app.post(
            &format!("/v1/residents/{a_id}/safe"),
            &b,
            &json!({"status": "at_home"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post("/v1/residents/me/safe", &a, &json!({"status": "fine"}))
            .await,
        422,
        "invalid_status",
    )
    .await;
    let safe_entries = app
        .audit_actions()
        .await
        .iter()
        .filter(|x| *x == "resident.safe")
        .count();
    assert_eq!(safe_entries, 2);
}

/// A re-send reaches only those who have not acknowledged, at most once in 10 minutes, through
/// the outbox a gateway drains.
#[tokio::test]
async fn a_resend_reaches_only_the_pending_through_the_outbox() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, a) = resident_at(&app, 30.05, 120.05, &[]).await;
    resident_at(&app, 30.06, 120.06, &[]).await;
    resident_at(&app, 30.07, 120.07, &["elderly"]).await;
    let sent: Value = app
        .post("/v1/alerts", &official, &alert_form(json!([&zone])))
        .await
        .json()
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap();
    app.post(&format!("/v1/alerts/{id}/ack"), &a, &json!({}))
        .await;

    let res: Value = app
        .post(
            &format!("/v1/alerts/{id}/resend"),
            &official,
            &json!({"channels": ["sms", "voice"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["queued"], json!({"sms": 2, "voice": 2}), "{res}");
    assert_eq!(res["pending"], 2);
    let again: Value = app
        .post(&format!("/v1/alerts/{id}/resend"), &official, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["queued"],
        json!({"sms": 0}),
        "no phone twice in 10 minutes"
    );

    let gateway = &app.gateway().await;
    let sms: Value = app
        .get("/v1/outbox?channel=sms", gateway)
        .await
        .json()
        .await
        .unwrap();
    let sms = sms.as_array().unwrap();
    assert_eq!(sms.len(), 2);
    assert!(sms[0]["phone"].is_string());
    assert!(
        sms[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Levee breach at Yiqiao")
    );
    let first = sms[0]["id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/v1/outbox/{first}/delivered"),
            gateway,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .post(
            &format!("/v1/outbox/{first}/delivered"),
            gateway,
            &json!({}),
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    let left: Value = app
        .get("/v1/outbox?channel=sms", gateway)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_problem(
        app.get("/v1/outbox?channel=sms", &official).await,
        403,
        "forbidden",
    )
    .await;
    // Not even an admin: the gateway's rights are its own.
    assert_problem(
        app.get("/v1/outbox?channel=sms", &app.admin_token).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post(
            &format!("/v1/alerts/{id}/resend"),
            &official,
            &json!({"channels": ["pigeon"]}),
        )
        .await,
        422,
        "invalid_channel",
    )
    .await;
}

/// An alert with `escalate_after` is sent again, once, to whoever has not acknowledged it
/// when the time comes.
#[tokio::test]
async fn escalation_fires_once_for_the_pending() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, a) = resident_at(&app, 30.05, 120.05, &[]).await;
    resident_at(&app, 30.06, 120.06, &[]).await;
    let mut body = alert_form(json!([&zone]));
    body["escalate_after"] = json!(5);
    let sent: Value = app
        .post("/v1/alerts", &official, &body)
        .await
        .json()
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap();
    app.post(&format!("/v1/alerts/{id}/ack"), &a, &json!({}))
        .await;

    let now = chrono::Utc::now();
    let alerts = safecode::service::alerts::escalate_due;
    assert_eq!(alerts(&app.ctx, now).await.unwrap(), 0, "not yet");
    let later = now + chrono::Duration::minutes(6);
    assert_eq!(alerts(&app.ctx, later).await.unwrap(), 1);
    assert_eq!(alerts(&app.ctx, later).await.unwrap(), 0, "once");
    let sms: Value = app
        .get("/v1/outbox?channel=sms", &app.gateway().await)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sms.as_array().unwrap().len(),
        1,
        "only the one who did not read it"
    );
    let mut bad = alert_form(json!([&zone]));
    bad["escalate_after"] = json!(0);
    assert_problem(
        app.post("/v1/alerts", &official, &bad).await,
        422,
        "invalid_escalation",
    )
    .await;
}

#[tokio::test]
async fn text_that_xml_cannot_hold_is_refused_and_never_reaches_cap() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "z").await;
    for bad in ["Flood\u{FFFF}", "Flood\u{FFFE}", "Flood\u{1}"] {
        let res = app
            .post(
                "/v1/alerts",
                &official,
                &json!({"zones": [zone], "headline": bad, "event": "Flood", "description": "Rising.",
                       "instruction": "Leave.", "response_type": "Evacuate", "urgency": "Immediate",
                       "severity": "Extreme", "certainty": "Observed"}),
            )
            .await;
        assert_problem(res, 422, "invalid_text").await;
    }
    let res = app
        .post(
            "/v1/zones",
            &official,
            &feature(
                "river\u{FFFF}",
                json!({"type": "Polygon", "coordinates": [rect(121.0, 31.0, 121.1, 31.1)]}),
            ),
        )
        .await;
    assert_problem(res, 422, "invalid_zone_name").await;
    let feed = app.public_text("/v1/alerts.atom").await;
    assert!(!feed.contains('\u{FFFF}'));
}

/// An official's phone that lost the answer sends the alert again under the same
/// `Idempotency-Key`: the first answer comes back and nobody is alerted twice; another form
/// under that key is refused; another key is another alert. A village's contact likewise.
#[tokio::test]
async fn an_alert_or_a_contact_retried_with_the_same_key_is_applied_once() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, a) = resident_at(&app, 30.05, 120.05, &[]).await;
    let form = alert_form(json!([&zone]));

    let first: Value = json_ok(
        app.post_keyed("/v1/alerts", &official, "alert-0001", &form)
            .await,
    )
    .await;
    let res = app
        .post_keyed("/v1/alerts", &official, "alert-0001", &form)
        .await;
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.unwrap();
    assert_eq!(first, again, "the retry gets the first answer");
    let inbox: Value = json_ok(app.get("/v1/residents/me/alerts", &a).await).await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "alerted once: {inbox}");

    let mut other = form.clone();
    other["headline"] = json!("Levee breach at Yiqiao, second warning");
    let res = app
        .post_keyed("/v1/alerts", &official, "alert-0001", &other)
        .await;
    assert_problem(res, 422, "idempotency_key_reused").await;
    let second: Value = json_ok(
        app.post_keyed("/v1/alerts", &official, "alert-0002", &form)
            .await,
    )
    .await;
    assert_ne!(second["id"], first["id"]);
    let inbox: Value = json_ok(app.get("/v1/residents/me/alerts", &a).await).await;
    assert_eq!(inbox.as_array().unwrap().len(), 2, "{inbox}");

    let contact = json!({"kind": "dingtalk", "name": "Yiqiao village committee", "zone_id": zone,
        "address": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": "SEC0123"});
    let c1: Value = json_ok(
        app.post_keyed("/v1/alert-contacts", &official, "contact-1", &contact)
            .await,
    )
    .await;
    let c2: Value = json_ok(
        app.post_keyed("/v1/alert-contacts", &official, "contact-1", &contact)
            .await,
    )
    .await;
    assert_eq!(c1["id"], c2["id"]);
    let listed: Value = json_ok(app.get("/v1/alert-contacts", &official).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

/// A key is its sender's own: another official who happens to send the same key (a copied
/// script, a guessed one) gets an alert of their own, never the first official's answer, and
/// the first official's retry still gets theirs.
#[tokio::test]
async fn another_officials_same_key_is_not_the_first_officials_alert() {
    let app = spawn_app().await;
    let (first, second) = (app.official().await, app.official().await);
    let zone = app.square_zone(&first, "Yiqiao").await;
    let form = alert_form(json!([&zone]));
    let mine: Value = json_ok(
        app.post_keyed("/v1/alerts", &first, "shared-key", &form)
            .await,
    )
    .await;
    let theirs: Value = json_ok(
        app.post_keyed("/v1/alerts", &second, "shared-key", &form)
            .await,
    )
    .await;
    assert_ne!(mine["id"], theirs["id"]);
    let again: Value = json_ok(
        app.post_keyed("/v1/alerts", &first, "shared-key", &form)
            .await,
    )
    .await;
    assert_eq!(again["id"], mine["id"]);
    let order = json!({"level": "mandatory", "reason": "dyke breach expected"});
    let path = format!("/v1/zones/{zone}/orders");
    let o1: Value = json_ok(app.post_keyed(&path, &first, "shared-key", &order).await).await;
    let o2: Value = json_ok(app.post_keyed(&path, &second, "shared-key", &order).await).await;
    assert_ne!(o1["id"], o2["id"]);
}
