use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(
        v["database"],
        if app.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    );
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.ctx.db.close().await;
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_problem(res, 503, "not_ready").await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_not_by_path() {
    let app = spawn_app().await;
    let (id, _) = app.registered().await;
    let official = app.official().await;
    app.get(&format!("/v1/residents/{id}"), &official).await;
    let text = app.public_text("/metrics").await;
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/v1/residents",status="201"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/v1/residents/{id}""#), "{text}");
    assert!(!text.contains(&id), "a resident id leaked into metrics");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn openapi_document_lists_the_api_and_swagger_ui_is_served_offline() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/residents",
        "/v1/residents/{id}",
        "/v1/residents/import",
        "/v1/users",
        "/v1/audit/verify",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("cdn"),
        "the docs page must not load from a CDN"
    );
    let js = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200, "vendored Swagger UI script is served");
}
