//! Zones, orders, overrides, rules, incidents, appeals: how colours move, end to end.

use crate::helpers::*;
use serde_json::{Value, json};

/// Xiaoshan-ish square with a hole, and a second square: a MultiPolygon.
fn flood_area() -> Value {
    json!({"type": "MultiPolygon", "coordinates": [
        [rect(120.20, 30.10, 120.30, 30.20), rect(120.24, 30.14, 120.26, 30.16)],
        [rect(120.40, 30.10, 120.45, 30.15)]
    ]})
}

#[tokio::test]
async fn a_mandatory_order_turns_exactly_the_residents_inside_red_and_lifting_restores_them() {
    let app = spawn_app().await;
    let official = app.official().await;
    // Registered before the zone is drawn.
    let (inside, _) = resident_at(&app, 30.12, 120.22, &[]).await;
    let (on_edge, _) = resident_at(&app, 30.10, 120.25, &[]).await;
    let (in_hole, _) = resident_at(&app, 30.15, 120.25, &[]).await;
    let (just_outside, _) = resident_at(&app, 30.0999, 120.25, &[]).await;
    let zone = app
        .zone(&official, &feature("Puyang river bank", flood_area()))
        .await;
    // Registered after.
    let (second_part, token) = resident_at(&app, 30.12, 120.42, &[]).await;
    let (far, _) = resident_at(&app, 31.0, 121.0, &[]).await;

    let preview: Value = app
        .post(
            &format!("/v1/zones/{zone}/orders/preview"),
            &official,
            &json!({"level": "mandatory"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview,
        json!({"to_red": 3, "to_yellow": 0, "to_green": 0, "unchanged": 0})
    );

    let res = app
        .post(
            &format!("/v1/zones/{zone}/orders"),
            &official,
            &json!({"level": "mandatory", "reason": "dyke breach expected"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["in_force"], true);

    for (r, want) in [
        (&inside, "red"),
        (&on_edge, "red"),
        (&second_part, "red"),
        (&in_hole, "green"),
        (&just_outside, "green"),
        (&far, "green"),
    ] {
        assert_eq!(app.colour(&official, r).await, want, "{r}");
    }
    // The resident sees it, with the reason.
    let me: Value = app
        .get("/v1/residents/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["colour"], "red");
    assert_eq!(me["reasons"][0]["rule"], "mandatory_not_transferred");
    assert!(
        me["reasons"][0]["text_zh"]
            .as_str()
            .unwrap()
            .contains("强制转移")
    );
    assert_eq!(me["zones"][0]["name"], "Puyang river bank");

    // Live counts on the map.
    let zones: Value = app.get("/v1/zones", &official).await.json().await.unwrap();
    let props = &zones["features"][0]["properties"];
    assert_eq!(
        (
            props["residents"].as_i64(),
            props["red"].as_i64(),
            props["green"].as_i64()
        ),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(props["order_level"], "mandatory");

    let res = app
        .post(
            &format!("/v1/orders/{}/lift", order["id"].as_str().unwrap()),
            &official,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    for r in [&inside, &on_edge, &second_part] {
        assert_eq!(app.colour(&official, r).await, "green");
    }
    let res = app
        .post(
            &format!("/v1/orders/{}/lift", order["id"].as_str().unwrap()),
            &official,
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "order_not_in_force").await;
    let actions = app.audit_actions().await;
    for a in ["zone.create", "order.issue", "order.lift"] {
        assert!(actions.contains(&a.to_owned()), "{a} audited");
    }
}

#[tokio::test]
async fn an_advisory_is_yellow_and_red_for_those_who_need_help_and_preview_matches() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "low ground").await;
    let (plain, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (elderly, _) = resident_at(&app, 30.05, 120.05, &["elderly"]).await;
    let (pregnant, _) = resident_at(&app, 30.06, 120.06, &["pregnant"]).await;
    let preview: Value = app
        .post(
            &format!("/v1/zones/{zone}/orders/preview"),
            &official,
            &json!({"level": "advisory"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview,
        json!({"to_red": 2, "to_yellow": 1, "to_green": 0, "unchanged": 0})
    );
    app.order(
        &official,
        &zone,
        &json!({"level": "advisory", "reason": "heavy rain"}),
    )
    .await;
    assert_eq!(app.colour(&official, &plain).await, "yellow");
    assert_eq!(app.colour(&official, &elderly).await, "red");
    assert_eq!(app.colour(&official, &pregnant).await, "red");
    // Now a mandatory order on top: everyone red; the preview says only the yellow one moves.
    let preview: Value = app
        .post(
            &format!("/v1/zones/{zone}/orders/preview"),
            &official,
            &json!({"level": "mandatory"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview,
        json!({"to_red": 1, "to_yellow": 0, "to_green": 0, "unchanged": 2})
    );
    // Residents by colour, for the transfer team.
    let page: Value = app
        .get(&format!("/v1/zones/{zone}/residents?colour=red"), &official)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["residents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&elderly.as_str()) && ids.contains(&pregnant.as_str()));
    let page: Value = app
        .get(&format!("/v1/zones/{zone}/residents?limit=1"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["residents"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get(
            &format!("/v1/zones/{zone}/residents?limit=5&cursor={next}"),
            &official,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["residents"].as_array().unwrap().len(), 2);
    assert!(page2["next_cursor"].is_null());
}

#[tokio::test]
async fn an_expired_order_stops_counting_on_its_own() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "z").await;
    let (r, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    let expires = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let res = app
        .post(
            &format!("/v1/zones/{zone}/orders"),
            &official,
            &json!({"level": "mandatory", "reason": "surge", "expires_at": expires}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.colour(&official, &r).await, "red");
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert_eq!(app.colour(&official, &r).await, "green");
    let active: Value = app
        .get("/v1/orders?active=true", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active, json!([]));
    let res = app
        .post(
            &format!("/v1/zones/{zone}/orders"),
            &official,
            &json!({"level": "mandatory", "reason": "x", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_problem(res, 422, "expiry_in_past").await;
}

#[tokio::test]
async fn moving_a_resident_or_redrawing_a_zone_recomputes_membership() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "z").await;
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "surge"}),
    )
    .await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    assert_eq!(app.colour(&official, &r).await, "green");
    let res = app
        .patch(
            &format!("/v1/residents/{r}"),
            &official,
            &json!({"location": {"lat": 30.05, "lon": 120.05}}),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "into a mandatory zone: a second official decides"
    );
    let pending: Value = res.json().await.unwrap();
    let second = app.official().await;
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &second,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&official, &r).await, "red");
    // A zone under an order is not redrawn: that would move people with no order.
    let away =
        json!({"geometry": {"type": "Polygon", "coordinates": [rect(121.0, 31.0, 121.1, 31.1)]}});
    let res = app
        .patch(&format!("/v1/zones/{zone}"), &official, &away)
        .await;
    assert_problem(res, 409, "order_in_force").await;
    assert_eq!(app.colour(&official, &r).await, "red");
    // Redraw the zone away from them, once its order is lifted and issued again.
    let orders: Value = app
        .get("/v1/orders?active=true", &official)
        .await
        .json()
        .await
        .unwrap();
    let order = orders[0]["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/orders/{order}/lift"), &official, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .patch(&format!("/v1/zones/{zone}"), &official, &away)
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "surge"}),
    )
    .await;
    assert_eq!(
        app.colour(&official, &r).await,
        "green",
        "no longer in the zone"
    );
    // Deleting a zone lifts its orders.
    let res = app.delete(&format!("/v1/zones/{zone}"), &official).await;
    assert_eq!(res.status(), 204);
    let active: Value = app
        .get("/v1/orders?active=true", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active, json!([]));
    assert_problem(
        app.get(&format!("/v1/zones/{zone}"), &official).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn every_zone_validation_error_has_its_own_code() {
    let app = spawn_app().await;
    let official = app.official().await;
    let many: Vec<[f64; 2]> = (0..100_001)
        .map(|i| {
            let t = i as f64 / 100_001.0 * std::f64::consts::TAU;
            [120.0 + t.cos() * 0.1, 30.0 + t.sin() * 0.1]
        })
        .chain(std::iter::once([120.1, 30.0]))
        .collect();
    let cases = [
        (
            json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.0, 30.0]]]}),
            "too_few_positions",
        ),
        (
            json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1]]]}),
            "ring_not_closed",
        ),
        (
            json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.1, 95.0)]}),
            "coordinates_out_of_range",
        ),
        (
            json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.1, 30.1], [120.1, 30.0], [120.0, 30.1], [120.0, 30.0]]]}),
            "self_intersection",
        ),
        (
            json!({"type": "Polygon", "coordinates": [many]}),
            "too_many_vertices",
        ),
        (
            json!({"type": "LineString", "coordinates": [[120.0, 30.0], [120.1, 30.1]]}),
            "unsupported_geometry",
        ),
    ];
    for (geometry, code) in cases {
        let body = feature("z", geometry);
        let res = app
            .client
            .post(app.url("/v1/zones"))
            .bearer_auth(&official)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 422, code).await;
    }
    let res = app.post("/v1/zones", &official, &json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.1, 30.1)]}})).await;
    assert_problem(res, 422, "invalid_zone_name").await;
    let res = app
        .post(
            "/v1/zones",
            &official,
            &json!({"type": "FeatureCollection", "properties": {"name": "x"}, "geometry": {}}),
        )
        .await;
    assert_problem(res, 422, "not_a_feature").await;
}

async fn request_override(app: &TestApp, official: &str, resident: &str, colour: &str) -> Value {
    let expires = chrono::Utc::now() + chrono::Duration::days(3);
    let res = app
        .post(&format!("/v1/residents/{resident}/overrides"), official, &json!({"colour": colour, "reason_code": "hazard_at_home", "reason": "house on the dyke", "expires_at": expires}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_override_needs_a_second_official_and_can_be_cleared() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let req = request_override(&app, &first, &r, "red").await;
    assert_eq!(req["status"], "pending_approval");
    assert_eq!(
        app.colour(&first, &r).await,
        "green",
        "not in force before approval"
    );
    let approval = req["approval_id"].as_str().unwrap();
    let pending: Value = app
        .get("/v1/approvals?status=pending", &second)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending[0]["id"], approval);

    let res = app
        .post(
            &format!("/v1/approvals/{approval}/approve"),
            &first,
            &json!({}),
        )
        .await;
    assert_problem(res, 403, "same_official").await;
    assert_eq!(app.colour(&first, &r).await, "green");

    let res = app
        .post(
            &format!("/v1/approvals/{approval}/approve"),
            &second,
            &json!({"reason": "checked with the village head"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&first, &r).await, "red");
    let v: Value = app
        .get(&format!("/v1/residents/{r}"), &first)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["reasons"][0]["rule"], "override");
    assert_eq!(v["reasons"][0]["text"], "house on the dyke");
    let res = app
        .post(
            &format!("/v1/approvals/{approval}/reject"),
            &second,
            &json!({}),
        )
        .await;
    assert_problem(res, 409, "already_decided").await;

    let res = app
        .delete(
            &format!(
                "/v1/residents/{r}/overrides/{}",
                req["id"].as_str().unwrap()
            ),
            &first,
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "what two officials decided, one does not undo"
    );
    let clear: Value = res.json().await.unwrap();
    assert_eq!(clear["kind"], "clear_override");
    assert_eq!(app.colour(&first, &r).await, "red");
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", clear["id"].as_str().unwrap()),
            &first,
            &json!({}),
        )
        .await;
    assert_problem(res, 403, "same_official").await;
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", clear["id"].as_str().unwrap()),
            &second,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&first, &r).await, "green");
    // A request still waiting is withdrawn at once.
    let waiting = request_override(&app, &first, &r, "red").await;
    let res = app
        .delete(
            &format!(
                "/v1/residents/{r}/overrides/{}",
                waiting["id"].as_str().unwrap()
            ),
            &first,
        )
        .await;
    assert_eq!(res.status(), 204);

    // A rejected request never counts.
    let req = request_override(&app, &first, &r, "yellow").await;
    let res = app
        .post(
            &format!(
                "/v1/approvals/{}/reject",
                req["approval_id"].as_str().unwrap()
            ),
            &second,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&first, &r).await, "green");

    // Validation.
    for (body, code) in [
        (
            json!({"colour": "red", "reason_code": "protest", "reason": "x", "expires_at": chrono::Utc::now() + chrono::Duration::days(1)}),
            "invalid_reason_code",
        ),
        (
            json!({"colour": "red", "reason_code": "other", "reason": " ", "expires_at": chrono::Utc::now() + chrono::Duration::days(1)}),
            "invalid_reason",
        ),
        (
            json!({"colour": "red", "reason_code": "other", "reason": "x", "expires_at": chrono::Utc::now() + chrono::Duration::days(31)}),
            "expiry_too_far",
        ),
    ] {
        assert_problem(
            app.post(&format!("/v1/residents/{r}/overrides"), &first, &body)
                .await,
            422,
            code,
        )
        .await;
    }
    let actions = app.audit_actions().await;
    for a in [
        "override.request",
        "override.approve",
        "override.clear",
        "override.reject",
    ] {
        assert!(actions.contains(&a.to_owned()), "{a} audited");
    }
}

#[tokio::test]
async fn a_bulk_override_goes_through_the_same_approval() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (a, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let (b, _) = resident_at(&app, 30.6, 120.6, &[]).await;
    let expires = chrono::Utc::now() + chrono::Duration::days(2);
    let res = app.post("/v1/overrides/bulk", &first, &json!({"resident_ids": [a, b], "colour": "yellow", "reason_code": "needs_assistance", "reason": "door-to-door list", "expires_at": expires})).await;
    assert_eq!(res.status(), 201);
    let req: Value = res.json().await.unwrap();
    assert_eq!(req["residents"], 2);
    assert_eq!(app.colour(&first, &a).await, "green");
    app.post(
        &format!(
            "/v1/approvals/{}/approve",
            req["approval_id"].as_str().unwrap()
        ),
        &second,
        &json!({}),
    )
    .await;
    assert_eq!(app.colour(&first, &a).await, "yellow");
    assert_eq!(app.colour(&first, &b).await, "yellow");
    let res = app.post("/v1/overrides/bulk", &first, &json!({"resident_ids": [uuid::Uuid::new_v4()], "colour": "red", "reason_code": "other", "reason": "x", "expires_at": expires})).await;
    assert_problem(res, 422, "unknown_resident").await;
}

#[tokio::test]
async fn an_official_with_a_jurisdiction_acts_only_inside_it() {
    let app = spawn_app().await;
    let district = json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.5, 30.5)]});
    let (_, local) = app
        .create_user("official", json!({"jurisdiction": district}))
        .await;
    let everywhere = app.official().await;
    let (inside, _) = resident_at(&app, 30.2, 120.2, &[]).await;
    let (outside, _) = resident_at(&app, 31.2, 121.2, &[]).await;

    assert_eq!(
        app.get(&format!("/v1/residents/{inside}"), &local)
            .await
            .status(),
        200
    );
    assert_problem(
        app.get(&format!("/v1/residents/{outside}"), &local).await,
        403,
        "outside_jurisdiction",
    )
    .await;
    let res = app
        .patch(
            &format!("/v1/residents/{outside}"),
            &local,
            &json!({"needs": ["elderly"]}),
        )
        .await;
    assert_problem(res, 403, "outside_jurisdiction").await;

    let res = app
        .post(
            "/v1/zones",
            &local,
            &feature(
                "across the border",
                json!({"type": "Polygon", "coordinates": [rect(120.4, 30.4, 120.6, 30.6)]}),
            ),
        )
        .await;
    assert_problem(res, 403, "outside_jurisdiction").await;
    let inner = app
        .zone(
            &local,
            &feature(
                "inside",
                json!({"type": "Polygon", "coordinates": [rect(120.1, 30.1, 120.3, 30.3)]}),
            ),
        )
        .await;
    let outer = app
        .zone(
            &everywhere,
            &feature(
                "elsewhere",
                json!({"type": "Polygon", "coordinates": [rect(121.0, 31.0, 121.5, 31.5)]}),
            ),
        )
        .await;
    assert_eq!(
        app.order(&local, &inner, &json!({"level": "advisory", "reason": "r"}))
            .await
            .status(),
        201
    );
    let res = app
        .post(
            &format!("/v1/zones/{outer}/orders"),
            &local,
            &json!({"level": "advisory", "reason": "r"}),
        )
        .await;
    assert_problem(res, 403, "outside_jurisdiction").await;
    let expires = chrono::Utc::now() + chrono::Duration::days(1);
    let res = app
        .post(
            &format!("/v1/residents/{outside}/overrides"),
            &local,
            &json!({"colour": "red", "reason_code": "other", "reason": "x", "expires_at": expires}),
        )
        .await;
    assert_problem(res, 403, "outside_jurisdiction").await;
    // Nor may they approve a request about someone outside it.
    let req = request_override(&app, &everywhere, &outside, "red").await;
    let res = app
        .post(
            &format!(
                "/v1/approvals/{}/approve",
                req["approval_id"].as_str().unwrap()
            ),
            &local,
            &json!({}),
        )
        .await;
    assert_problem(res, 403, "outside_jurisdiction").await;
}

#[tokio::test]
async fn rule_sets_are_validated_previewed_and_activated() {
    let app = spawn_app().await;
    let official = app.official().await;
    let second = app.official().await;
    let (flagged, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let res = app
        .patch(
            &format!("/v1/residents/{flagged}"),
            &official,
            &json!({"flags": ["injured"]}),
        )
        .await;
    assert_eq!(res.status(), 202, "green to yellow by one official waits");
    app.approve(&second, &res.json().await.unwrap()).await;
    resident_at(&app, 30.5, 120.5, &["elderly"]).await;
    let list: Value = app.get("/v1/rules", &official).await.json().await.unwrap();
    assert_eq!(list[0]["version"], 1);
    assert_eq!(list[0]["active"], true);

    let bad = json!({"name": "bad", "rules": [{"id": "r", "if": {"==": [{"var": "postcode"}, 1]}, "colour": "red", "reason": {"en": "e", "zh": "z"}}]});
    let p = assert_problem(
        app.post("/v1/rules", &official, &bad).await,
        422,
        "unknown_variable",
    )
    .await;
    assert_eq!(p["field"], "rules[r]");

    // Elderly residents yellow everywhere; injured no longer flagged.
    let candidate = json!({"name": "elderly watch", "rules": [
        {"id": "elderly", "if": {"in": ["elderly", {"var": "needs"}]}, "colour": "yellow", "reason": {"en": "Elderly: be ready.", "zh": "老人：请做好准备。"}}
    ]});
    let preview: Value = app
        .post("/v1/rules/preview", &official, &candidate)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["to_yellow"], 1, "{preview}");
    assert_eq!(preview["to_green"], 1, "{preview}");
    let created: Value = app
        .post("/v1/rules", &official, &candidate)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["version"], 2);
    assert_eq!(created["active"], false);
    assert_eq!(
        app.colour(&official, &flagged).await,
        "yellow",
        "not active yet"
    );
    let res = app
        .post("/v1/rules/2/activate", &official, &json!({}))
        .await;
    assert_eq!(
        res.status(),
        202,
        "a rule set always waits for a second official"
    );
    let pending: Value = res.json().await.unwrap();
    assert_eq!(pending["change"]["rules"]["added"][0]["id"], "elderly");
    assert_eq!(
        pending["change"]["rules"]["removed"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(pending["change"]["preview"]["to_green"], 1);
    assert_eq!(app.colour(&official, &flagged).await, "yellow");
    app.approve(&second, &pending).await;
    assert_eq!(app.colour(&official, &flagged).await, "green");
    assert_problem(
        app.post("/v1/rules/99/activate", &official, &json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    assert_problem(
        app.post("/v1/rules/1/activate", &staff, &json!({})).await,
        403,
        "forbidden",
    )
    .await;
    assert!(
        app.audit_actions()
            .await
            .contains(&"rules.activate".to_owned())
    );
}

#[tokio::test]
async fn the_all_clear_lifts_the_incidents_orders() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "z").await;
    let other = app
        .zone(
            &official,
            &feature(
                "y",
                json!({"type": "Polygon", "coordinates": [rect(121.0, 31.0, 121.1, 31.1)]}),
            ),
        )
        .await;
    let (r, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (s, _) = resident_at(&app, 31.05, 121.05, &[]).await;
    let inc: Value = app
        .post(
            "/v1/incidents",
            &official,
            &json!({"name": "Typhoon In-Fa"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let inc_id = inc["id"].as_str().unwrap();
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "In-Fa", "incident_id": inc_id}),
    )
    .await;
    app.order(
        &official,
        &other,
        &json!({"level": "mandatory", "reason": "another storm"}),
    )
    .await;
    assert_eq!(app.colour(&official, &r).await, "red");
    let res = app
        .post(
            &format!("/v1/incidents/{inc_id}/all-clear"),
            &official,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["orders_lifted"], 1);
    assert_eq!(app.colour(&official, &r).await, "green");
    assert_eq!(
        app.colour(&official, &s).await,
        "red",
        "orders of other incidents stay"
    );
    assert_problem(
        app.post(
            &format!("/v1/incidents/{inc_id}/all-clear"),
            &official,
            &json!({}),
        )
        .await,
        409,
        "already_all_clear",
    )
    .await;
    let res = app
        .post(
            &format!("/v1/zones/{zone}/orders"),
            &official,
            &json!({"level": "advisory", "reason": "x", "incident_id": inc_id}),
        )
        .await;
    assert_problem(res, 409, "incident_closed").await;
    assert!(
        app.audit_actions()
            .await
            .contains(&"incident.all_clear".to_owned())
    );
}

#[tokio::test]
async fn a_resident_appeals_and_an_upheld_appeal_clears_the_override() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (r, token) = resident_at(&app, 30.5, 120.5, &[]).await;
    let req = request_override(&app, &first, &r, "red").await;
    app.post(
        &format!(
            "/v1/approvals/{}/approve",
            req["approval_id"].as_str().unwrap()
        ),
        &second,
        &json!({}),
    )
    .await;
    let res = app
        .post(
            "/v1/residents/me/appeals",
            &token,
            &json!({"text": "My house is on a hill, I am safe."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let appeal: Value = res.json().await.unwrap();
    assert_eq!(appeal["colour"], "red");
    assert_eq!(appeal["status"], "open");
    let list: Value = app.get("/v1/appeals", &first).await.json().await.unwrap();
    assert_eq!(list[0]["id"], appeal["id"]);
    assert_eq!(list[0]["overdue"], false);
    let id = appeal["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/appeals/{id}/decision"),
            &second,
            &json!({"decision": "upheld", "reason": "confirmed on site", "clear_overrides": true}),
        )
        .await;
    assert_eq!(res.status(), 202, "clearing what two decided takes two");
    let pending: Value = res.json().await.unwrap();
    assert_eq!(pending["kind"], "appeal");
    assert_eq!(app.colour(&first, &r).await, "red", "nothing yet");
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &second,
            &json!({}),
        )
        .await;
    assert_problem(res, 403, "same_official").await;
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &first,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&first, &r).await, "green");
    let mine: Value = app
        .get("/v1/residents/me/appeals", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["status"], "upheld");
    assert_eq!(mine[0]["decision_reason"], "confirmed on site");
    let res = app
        .post(
            &format!("/v1/appeals/{id}/decision"),
            &second,
            &json!({"decision": "rejected", "reason": "x"}),
        )
        .await;
    assert_problem(res, 409, "already_decided").await;
    assert_problem(
        app.post("/v1/residents/me/appeals", &first, &json!({"text": "x"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post("/v1/residents/me/appeals", &token, &json!({"text": ""}))
            .await,
        422,
        "invalid_appeal",
    )
    .await;
}

#[tokio::test]
async fn an_appeal_past_its_deadline_is_flagged_and_listed_first() {
    let (mut settings, dir) = test_settings().await;
    settings.appeal_deadline_hours = 1;
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let (_, old) = resident_at(&app, 30.5, 120.5, &[]).await;
    let (_, new) = resident_at(&app, 30.5, 120.5, &[]).await;
    app.post("/v1/residents/me/appeals", &old, &json!({"text": "first"}))
        .await;
    app.post("/v1/residents/me/appeals", &new, &json!({"text": "second"}))
        .await;
    // Age the first appeal by two hours, as if it had waited that long.
    safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query("UPDATE appeals SET created_at = $1 WHERE text = 'first'")
            .bind(chrono::Utc::now() - chrono::Duration::hours(2))
            .execute(c)
            .await
            .unwrap();
    });
    let list: Value = app
        .get("/v1/appeals", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["text"], "first");
    assert_eq!(list[0]["overdue"], true);
    assert_eq!(list[1]["overdue"], false);
}

#[tokio::test]
async fn a_rule_set_that_moves_many_residents_needs_a_second_official() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (a, _) = resident_at(&app, 30.5, 120.5, &["medical"]).await;
    resident_at(&app, 30.5, 120.5, &["medical"]).await;
    let candidate = json!({"name": "medical watch", "rules": [
        {"id": "medical", "if": {"in": ["medical", {"var": "needs"}]}, "colour": "red", "reason": {"en": "Medical.", "zh": "医疗。"}}
    ]});
    let created: Value = app
        .post("/v1/rules", &first, &candidate)
        .await
        .json()
        .await
        .unwrap();
    let version = created["version"].as_i64().unwrap();
    let res = app
        .post(&format!("/v1/rules/{version}/activate"), &first, &json!({}))
        .await;
    assert_eq!(res.status(), 202, "a rule set always waits for approval");
    let pending: Value = res.json().await.unwrap();
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["kind"], "rules");
    assert_eq!(pending["residents"], 2);
    assert_eq!(
        app.colour(&first, &a).await,
        "green",
        "not active before approval"
    );
    let approval = pending["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/approvals/{approval}/approve"),
            &first,
            &json!({}),
        )
        .await;
    assert_problem(res, 403, "same_official").await;
    let res = app
        .post(
            &format!("/v1/approvals/{approval}/approve"),
            &second,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.colour(&first, &a).await, "red");
    let list: Value = app.get("/v1/rules", &first).await.json().await.unwrap();
    assert_eq!(list[0]["version"], version);
    assert_eq!(list[0]["active"], true);
}

#[tokio::test]
async fn a_malformed_decision_body_is_an_error_not_ignored() {
    let app = spawn_app().await;
    let first = app.official().await;
    let second = app.official().await;
    let (r, _) = resident_at(&app, 30.5, 120.5, &[]).await;
    let req = request_override(&app, &first, &r, "red").await;
    let url = app.url(&format!(
        "/v1/approvals/{}/approve",
        req["approval_id"].as_str().unwrap()
    ));
    let res = app
        .client
        .post(&url)
        .bearer_auth(&second)
        .header("content-type", "application/json")
        .body("{\"reason\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed_json").await;
    let res = app
        .client
        .post(&url)
        .bearer_auth(&second)
        .json(&json!({"why": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "invalid_body").await;
    assert_eq!(
        app.colour(&first, &r).await,
        "green",
        "nothing was approved"
    );
    let res = app
        .client
        .post(&url)
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "no body at all is fine");
}

#[tokio::test]
async fn zone_counts_follow_a_change_of_needs() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "z").await;
    let (r, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    resident_at(&app, 30.06, 120.06, &[]).await;
    app.order(
        &official,
        &zone,
        &json!({"level": "advisory", "reason": "rain"}),
    )
    .await;
    let counts = |v: Value| {
        (
            v["features"][0]["properties"]["red"].as_i64(),
            v["features"][0]["properties"]["yellow"].as_i64(),
        )
    };
    let zones: Value = app.get("/v1/zones", &official).await.json().await.unwrap();
    assert_eq!(counts(zones), (Some(0), Some(2)));
    let res = app
        .patch(
            &format!("/v1/residents/{r}"),
            &official,
            &json!({"needs": ["disabled"]}),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "yellow to red waits for a second official"
    );
    let pending: Value = res.json().await.unwrap();
    let zones: Value = app.get("/v1/zones", &official).await.json().await.unwrap();
    assert_eq!(counts(zones), (Some(0), Some(2)), "nothing moved yet");
    let second = app.official().await;
    let res = app
        .post(
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &second,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let zones: Value = app
        .get("/v1/zones?geometry=false", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts(zones.clone()),
        (Some(1), Some(1)),
        "the map agrees with the resident's own colour"
    );
    assert!(zones["features"][0]["geometry"].is_null());
    assert_eq!(app.colour(&official, &r).await, "red");
}
