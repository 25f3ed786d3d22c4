//! Zones and evacuation orders: who turns red or yellow, previews, expiry, redrawing, counts.

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
    let zones: Value = json_ok(app.get("/v1/zones", &official).await).await;
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
    lift_the_order_in_force(&app, &official).await;
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
    // A zone under an order is not deleted: the order is lifted first, on its own.
    assert_problem(
        app.delete(&format!("/v1/zones/{zone}"), &official).await,
        409,
        "order_in_force",
    )
    .await;
    lift_the_order_in_force(&app, &official).await;
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
    let zones: Value = json_ok(app.get("/v1/zones", &official).await).await;
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
    let zones: Value = json_ok(app.get("/v1/zones", &official).await).await;
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

/// Lifts the one order in force, as an official would from the list.
async fn lift_the_order_in_force(app: &TestApp, official: &str) {
    let active = json_ok(app.get("/v1/orders?active=true", official).await).await;
    let order = active[0]["id"].as_str().unwrap();
    json_ok(
        app.post(&format!("/v1/orders/{order}/lift"), official, &json!({}))
            .await,
    )
    .await;
}

/// An official's "issue" sent again after a lost answer, under the same `Idempotency-Key`, gets
/// the order issued first: had it issued a second, lifting the one the official knows of would
/// leave the zone red under the other.
#[tokio::test]
async fn an_order_retried_with_the_same_key_is_issued_once_and_one_lift_clears_the_zone() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (inside, _) = resident_at(&app, 30.12, 120.22, &[]).await;
    let zone = app
        .zone(&official, &feature("Puyang river bank", flood_area()))
        .await;
    let path = format!("/v1/zones/{zone}/orders");
    let form = json!({"level": "mandatory", "reason": "dyke breach expected"});
    let first: Value = json_ok(app.post_keyed(&path, &official, "order-1", &form).await).await;
    let again: Value = json_ok(app.post_keyed(&path, &official, "order-1", &form).await).await;
    assert_eq!(first["id"], again["id"]);
    let mut other = form.clone();
    other["level"] = json!("advisory");
    assert_problem(
        app.post_keyed(&path, &official, "order-1", &other).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.colour(&official, &inside).await, "red");

    let lift = format!("/v1/orders/{}/lift", first["id"].as_str().unwrap());
    json_ok(app.post(&lift, &official, &json!({})).await).await;
    assert_eq!(app.colour(&official, &inside).await, "green");
    let zones: Value = json_ok(app.get("/v1/zones", &official).await).await;
    assert_eq!(zones["features"][0]["properties"]["order_level"], "none");
}
