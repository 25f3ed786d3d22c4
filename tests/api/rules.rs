//! Rule sets: validation, preview, activation by a second official.

use crate::helpers::*;
use serde_json::{Value, json};

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
    let list: Value = json_ok(app.get("/v1/rules", &official).await).await;
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
    let list: Value = json_ok(app.get("/v1/rules", &first).await).await;
    assert_eq!(list[0]["version"], version);
    assert_eq!(list[0]["active"], true);
}
