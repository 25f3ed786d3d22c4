//! Hazard reports: residents report (with a photo), officials see them on a map, trapped
//! people first, and move them through the workflow; residents see no one else's reports.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn reports_are_listed_urgent_first_and_follow_the_workflow() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, resident) = app.registered().await;
    let (_, neighbour) = app.registered().await;
    let png = app
        .get("/v1/residents/me/code?format=png", &resident)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();

    // Trapped people first, with a photo; then a flooded road, later, inside the zone.
    let form = reqwest::multipart::Form::new()
        .text("lat", "31.5")
        .text("lon", "121.5")
        .text("category", "trapped_people")
        .text("text", "Two elderly people on a roof, water at the eaves")
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png.clone())
                .file_name("roof.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let res = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(&resident)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let trapped: Value = res.json().await.unwrap();
    assert_eq!(trapped["urgent"], true);
    let res = app
        .post(
            "/v1/reports",
            &neighbour,
            &json!({"location": {"lat": 30.05, "lon": 120.05}, "category": "flooding",
                    "text": "Road under 50 cm of water"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let flood: Value = res.json().await.unwrap();
    assert_eq!(flood["urgent"], false);

    let all: Value = app
        .get("/v1/reports", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["type"], "FeatureCollection");
    let features = all["features"].as_array().unwrap();
    assert_eq!(features.len(), 2);
    assert_eq!(features[0]["id"], trapped["id"], "urgent first");
    assert_eq!(features[0]["properties"]["has_photo"], true);
    assert_eq!(
        features[1]["geometry"]["coordinates"],
        json!([120.05, 30.05])
    );
    let in_zone: Value = app
        .get(&format!("/v1/reports?zone_id={zone}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(in_zone["features"].as_array().unwrap().len(), 1);
    assert_eq!(in_zone["features"][0]["id"], flood["id"]);
    let floods: Value = app
        .get("/v1/reports?category=flooding&status=new", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(floods["features"].as_array().unwrap().len(), 1);

    let photo = app
        .get(
            &format!("/v1/reports/{}/photo", trapped["id"].as_str().unwrap()),
            &official,
        )
        .await;
    assert_eq!(photo.headers()["content-type"], "image/png");
    assert_eq!(photo.bytes().await.unwrap().to_vec(), png);

    let path = format!("/v1/reports/{}", flood["id"].as_str().unwrap());
    let ok = app
        .patch(
            &path,
            &official,
            &json!({"status": "verified", "note": "seen by patrol"}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    for (status, code) in [
        ("new", "invalid_transition"),
        ("resolved", "invalid_transition"),
    ] {
        let res = app
            .patch(&path, &official, &json!({"status": status}))
            .await;
        if status == "resolved" {
            // verified → resolved is allowed; then nothing more is.
            assert_eq!(res.status(), 200);
            let res = app
                .patch(&path, &official, &json!({"status": "assigned"}))
                .await;
            assert_problem(res, 422, code).await;
        } else {
            assert_problem(res, 422, code).await;
        }
    }
    assert_problem(
        app.patch(&path, &official, &json!({"status": "lost"}))
            .await,
        422,
        "invalid_status",
    )
    .await;
    assert_eq!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "report.status")
            .count(),
        2
    );

    // Residents see no one's reports or photos; a non-image photo is refused.
    assert_problem(app.get("/v1/reports", &resident).await, 403, "forbidden").await;
    let res = app
        .get(
            &format!("/v1/reports/{}/photo", trapped["id"].as_str().unwrap()),
            &neighbour,
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let form = reqwest::multipart::Form::new()
        .text("lat", "30.1")
        .text("lon", "120.1")
        .text("category", "other")
        .text("text", "x")
        .part(
            "photo",
            reqwest::multipart::Part::bytes(b"MZ not an image".to_vec()),
        );
    let res = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(&resident)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "invalid_photo").await;
    let res = app
        .post(
            "/v1/reports",
            &resident,
            &json!({"location": {"lat": 30.1, "lon": 120.1}, "category": "tsunami", "text": "x"}),
        )
        .await;
    assert_problem(res, 422, "invalid_category").await;
    assert_problem(
        app.post(
            "/v1/reports",
            &official,
            &json!({"location": {"lat": 30.1, "lon": 120.1}, "category": "other", "text": "x"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}
