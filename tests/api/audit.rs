use crate::helpers::*;
use serde_json::{Value, json};

async fn patch(app: &TestApp, official: &str, id: &str, needs: Value) {
    let res = app
        .patch(
            &format!("/v1/residents/{id}"),
            official,
            &json!({"needs": needs}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_chain_verifies_and_a_tampered_row_is_found() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (id, _) = app.registered().await;
    patch(&app, &official, &id, json!(["medical"])).await;
    patch(&app, &official, &id, json!([])).await;
    let v = app.audit_verify().await;
    // The default rule set, the first admin, the official, the registration, two changes.
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 6);

    // The log refuses edits through SQL...
    let refused = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query("UPDATE audit_log SET reason = 'x' WHERE seq = 5")
            .execute(c)
            .await
            .is_err()
    });
    assert!(refused, "audit_log is append-only");
    // ...and someone who removes that guard is still caught.
    app.tamper_with_audit_log(
        "UPDATE audit_log SET after = '{\"needs\":[\"elderly\"]}' WHERE seq = 5",
    )
    .await;
    let v = app.audit_verify().await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_broken"]["seq"], 5);
    assert_eq!(v["entries"], 4);
}

#[tokio::test]
async fn a_deleted_entry_is_found() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (id, _) = app.registered().await;
    patch(&app, &official, &id, json!(["medical"])).await;
    app.tamper_with_audit_log("DELETE FROM audit_log WHERE seq = 5")
        .await;
    let v = app.audit_verify().await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_broken"]["seq"], 5);
}

#[tokio::test]
async fn concurrent_writers_keep_one_unbroken_chain() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (id, _) = app.registered().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/residents/{id}"));
        let official = official.clone();
        let needs = if i % 2 == 0 {
            json!(["medical"])
        } else {
            json!(["infant"])
        };
        tasks.push(tokio::spawn(async move {
            client
                .patch(url)
                .bearer_auth(official)
                .json(&json!({"needs": needs}))
                .send()
                .await
                .unwrap()
                .status()
        }));
        let client = app.client.clone();
        let url = app.url("/v1/residents");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&resident_body())
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().is_success());
    }
    let v = app.audit_verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 4 + 24 + 24);
}

#[tokio::test]
async fn a_resident_reads_only_their_own_trail() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (mine, token) = app.registered().await;
    let (other, _) = app.registered().await;
    patch(&app, &official, &mine, json!(["medical"])).await;
    patch(&app, &official, &other, json!(["medical"])).await;
    let trail: Value = json_ok(app.get("/v1/audit", &token).await).await;
    let subjects: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        vec![format!("resident:{mine}"), format!("resident:{mine}")]
    );
    let theirs: Value = app
        .get(&format!("/v1/audit?subject=resident:{other}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));
    assert_problem(app.get("/v1/audit/verify", &token).await, 403, "forbidden").await;
}

#[tokio::test]
async fn the_trail_filters_by_actor_subject_time_and_pages() {
    let app = spawn_app().await;
    let official_id_token = app.create_user("official", json!({})).await;
    let (id, _) = app.registered().await;
    patch(&app, &official_id_token.1, &id, json!(["medical"])).await;
    let by_actor: Value = app
        .get(
            &format!("/v1/audit?actor=official:{}", official_id_token.0),
            &app.admin_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_actor.as_array().unwrap().len(), 1);
    assert_eq!(by_actor[0]["action"], "resident.update");
    let page: Value = app
        .get("/v1/audit?limit=2", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let next: Value = app
        .get("/v1/audit?limit=2&after_seq=2", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next[0]["seq"], 3);
    let future: Value = app
        .get("/v1/audit?since=2100-01-01T00:00:00Z", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(future, json!([]));
}
