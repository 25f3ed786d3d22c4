use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn an_admin_creates_users_whose_tokens_work_at_once() {
    let app = spawn_app().await;
    let shelter = uuid::Uuid::new_v4();
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter]}))
        .await;
    let (_, official) = app
        .create_user(
            "official",
            json!({"jurisdiction": {"type": "Polygon", "coordinates": [[[120.1, 30.0], [120.6, 30.0], [120.6, 30.4], [120.1, 30.0]]]}}),
        )
        .await;
    // The official may verify the audit chain; staff may not.
    assert_eq!(app.get("/v1/audit/verify", &official).await.status(), 200);
    assert_problem(app.get("/v1/audit/verify", &staff).await, 403, "forbidden").await;
    let entries: Value = app
        .get("/v1/audit?limit=10", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "user.create")
            .count(),
        3
    );
}

#[tokio::test]
async fn only_admins_create_users() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, resident) = app.registered().await;
    for token in [&official, &resident] {
        let res = app
            .client
            .post(app.url("/v1/users"))
            .bearer_auth(token)
            .json(&json!({"role": "admin", "name": "x"}))
            .send()
            .await
            .unwrap();
        assert_problem(res, 403, "forbidden").await;
    }
    let res = app
        .client
        .post(app.url("/v1/users"))
        .json(&json!({"role": "admin", "name": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
}

#[tokio::test]
async fn user_input_is_validated() {
    let app = spawn_app().await;
    let cases = [
        (json!({"role": "mayor", "name": "x"}), "invalid_role"),
        (json!({"role": "resident", "name": "x"}), "invalid_role"),
        (json!({"role": "staff", "name": ""}), "invalid_name"),
        (
            json!({"role": "official", "name": "x", "shelter_ids": [uuid::Uuid::new_v4()]}),
            "invalid_shelters",
        ),
        (
            json!({"role": "official", "name": "x", "jurisdiction": {"type": "Point", "coordinates": [120, 30]}}),
            "invalid_jurisdiction",
        ),
        (
            json!({"role": "staff", "name": "x", "jurisdiction": {"type": "Polygon", "coordinates": [[[120.1, 30.0], [120.6, 30.0], [120.6, 30.4], [120.1, 30.0]]]}}),
            "invalid_jurisdiction",
        ),
    ];
    for (body, code) in cases {
        let res = app
            .client
            .post(app.url("/v1/users"))
            .bearer_auth(&app.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 422, code).await;
    }
    assert_eq!(
        app.audit_verify().await["entries"],
        2,
        "no refused user was created"
    );
}

#[tokio::test]
async fn a_disabled_user_loses_access_and_the_last_admin_stays() {
    let app = spawn_app().await;
    let (official_id, official) = app.create_user("official", json!({})).await;
    assert_eq!(app.get("/v1/audit/verify", &official).await.status(), 200);
    let res = app
        .delete(&format!("/v1/users/{official_id}"), &app.admin_token)
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get("/v1/audit/verify", &official).await,
        401,
        "unauthenticated",
    )
    .await;
    let res = app
        .delete(&format!("/v1/users/{official_id}"), &app.admin_token)
        .await;
    assert_problem(res, 404, "not_found").await;

    let admins: Value = app
        .get("/v1/audit?limit=1&action=user.create", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let first_admin = admins[0]["subject"]
        .as_str()
        .unwrap()
        .trim_start_matches("admin:")
        .to_owned();
    let res = app
        .delete(&format!("/v1/users/{first_admin}"), &app.admin_token)
        .await;
    assert_problem(res, 409, "last_admin").await;
    assert_eq!(
        app.get("/v1/audit/verify", &app.admin_token).await.status(),
        200,
        "the refused disable changed nothing"
    );
}

#[tokio::test]
async fn signing_out_revokes_only_that_token() {
    let app = spawn_app().await;
    let (_, resident) = app.registered().await;
    // Used once first, so that the server has its holder in mind when it is revoked.
    assert_eq!(app.get("/v1/residents/me", &resident).await.status(), 200);
    let res = app
        .client
        .delete(app.url("/v1/tokens/current"))
        .bearer_auth(&resident)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(
        app.get("/v1/residents/me", &resident).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        app.get("/v1/audit/verify", &app.admin_token).await.status(),
        200
    );
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let (_, resident) = app.registered().await;
    let hashes: Vec<Vec<u8>> = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_scalar("SELECT token_hash FROM access_tokens")
            .fetch_all(c)
            .await
            .unwrap()
    });
    assert_eq!(hashes.len(), 2, "the admin's and the resident's");
    for h in hashes {
        assert_eq!(h.len(), 32);
        assert!(!String::from_utf8_lossy(&h).contains(&resident[3..]));
    }
}

/// Two server processes on one database: a token signed out through one stops working on the
/// other within the configured moment (`auth_cache_ms`), never later.
#[tokio::test]
async fn a_token_revoked_on_one_server_is_refused_by_another_within_the_cache_time() {
    let (mut settings, dir) = test_settings().await;
    settings.auth_cache_ms = 300;
    let first = spawn_with(settings, dir).await;
    let second = another_server(&first).await;
    let (_, resident) = first.registered().await;
    assert_eq!(
        second.get("/v1/residents/me", &resident).await.status(),
        200
    );
    let res = first
        .client
        .delete(first.url("/v1/tokens/current"))
        .bearer_auth(&resident)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(first.get("/v1/residents/me", &resident).await.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_problem(
        second.get("/v1/residents/me", &resident).await,
        401,
        "unauthenticated",
    )
    .await;
}
