//! Rate limits, switched on with small numbers: the request past a limit gets 429 problem
//! details with Retry-After and changes nothing; other clients and tokens go on.

use crate::helpers::*;
use serde_json::{Value, json};

async fn limited_app() -> TestApp {
    let (mut settings, dir) = test_settings().await;
    settings.rate_limits = safecode::config::RateLimitSettings {
        enabled: true,
        register_per_ip: 3,
        verify_per_token: 2,
        verify_per_ip: 1000,
        reports_per_token: 1,
        auth_failures_per_ip: 2,
    };
    spawn_with(settings, dir).await
}

async fn assert_limited(res: reqwest::Response) {
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn registration_verification_reports_and_token_guessing_are_limited() {
    let app = limited_app().await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let res = app.register(&resident_body()).await;
        assert_eq!(res.status(), 201);
        tokens.push(
            res.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let fourth = resident_body();
    assert_limited(app.register(&fourth).await).await;

    // Verification: per token. A second desk's token is not held up by the first's.
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, other_desk) = app.create_user("staff", json!({})).await;
    let code: Value = app
        .get("/v1/residents/me/code", &tokens[0])
        .await
        .json()
        .await
        .unwrap();
    let body = json!({"token": code["token"]});
    for _ in 0..2 {
        assert_eq!(app.post("/v1/verify", &staff, &body).await.status(), 200);
    }
    assert_limited(app.post("/v1/verify", &staff, &body).await).await;
    assert_eq!(
        app.post("/v1/verify", &other_desk, &body).await.status(),
        200
    );

    // Reports: one a minute here; the refused one is not stored.
    let report = json!({"category": "flooding", "text": "Water over the road",
                        "location": {"lat": 30.1, "lon": 120.1}});
    assert_eq!(
        app.post("/v1/reports", &tokens[1], &report).await.status(),
        201
    );
    assert_limited(app.post("/v1/reports", &tokens[1], &report).await).await;
    let official = app.official().await;
    let listed: Value = app
        .get("/v1/reports", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["features"].as_array().unwrap().len(), 1);

    // Guessing tokens: after two failures this address is held off for guesses, while a
    // token that works from the same address (a desk behind the same NAT) goes on.
    for _ in 0..2 {
        assert_problem(
            app.get("/v1/residents/me", "sc_guess").await,
            401,
            "unauthenticated",
        )
        .await;
    }
    assert_problem(
        app.get("/v1/residents/me", "sc_guess").await,
        401,
        "unauthenticated",
    )
    .await;
    assert_limited(app.get("/v1/residents/me", "sc_another_guess").await).await;
    assert_eq!(app.get("/v1/residents/me", &tokens[1]).await.status(), 200);
    // Public, unlimited routes stay open.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
