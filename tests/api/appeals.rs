//! Appeals: a resident contests their colour; officials decide, within a deadline.

use crate::helpers::*;
use serde_json::{Value, json};

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
    let list: Value = json_ok(app.get("/v1/appeals", &first).await).await;
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
