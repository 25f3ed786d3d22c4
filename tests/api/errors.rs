//! Every error, including the framework's own, is problem details with a stable code.

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/residents"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed_json").await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/residents"))
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn body_over_one_mebibyte_is_413() {
    let app = spawn_app().await;
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let res = app
        .client
        .post(app.url("/v1/residents"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
}

#[tokio::test]
async fn well_formed_json_of_the_wrong_shape_is_422_without_echoing_values() {
    let app = spawn_app().await;
    let res = app
        .register(&serde_json::json!({"name": "x", "id_number": "110105194912310021", "phone": 13912345678u64, "secret": "S3CRET"}))
        .await;
    let body = assert_problem(res, 422, "invalid_body").await;
    assert!(!body.to_string().contains("S3CRET"));
    let res = app
        .register(&serde_json::json!({"name": ["王"], "id_number": "x"}))
        .await;
    assert_problem(res, 422, "invalid_body").await;
}

#[tokio::test]
async fn unknown_route_is_404() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn wrong_method_is_405() {
    let app = spawn_app().await;
    let res = app
        .client
        .put(app.url("/v1/residents"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 405, "method_not_allowed").await;
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn id_that_is_not_a_uuid_is_404() {
    let app = spawn_app().await;
    let official = app.official().await;
    let res = app.get("/v1/residents/not-a-uuid", &official).await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn bad_query_string_is_400() {
    let app = spawn_app().await;
    let res = app.get("/v1/audit?since=yesterday", &app.admin_token).await;
    assert_problem(res, 400, "invalid_query").await;
    let res = app.get("/v1/audit?colour=red", &app.admin_token).await;
    assert_problem(res, 400, "invalid_query").await;
}

#[tokio::test]
async fn missing_or_bad_bearer_token_is_401_with_www_authenticate() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/v1/residents/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_problem(res, 401, "unauthenticated").await;
    let res = app.get("/v1/residents/me", "sc_not-a-real-token").await;
    assert_problem(res, 401, "unauthenticated").await;
    let res = app
        .client
        .get(app.url("/v1/residents/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
}
