//! Incidents and the all-clear that lifts their orders.

use crate::helpers::*;
use serde_json::{Value, json};

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
