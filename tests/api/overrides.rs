//! Individual colour overrides: two officials, bulk requests, jurisdiction, clearing.

use crate::helpers::*;
use serde_json::{Value, json};

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
