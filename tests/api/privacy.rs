//! No personal data in logs: a real server logging at `info` is taken through registration,
//! profile reads, a scan, an admission, a hazard report and refused requests carrying personal
//! data; none of the names, numbers, addresses or tokens appears in anything it wrote.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_server_logs_no_personal_data_and_no_tokens() {
    let app = spawn_app().await;
    let official = app.official().await;
    let server =
        ServeProcess::start_with(&app, "127.0.0.1:0", &[("RUST_LOG", "info,sqlx=warn")]).await;
    let client = crate::helpers::test_client();
    let url = |p: &str| server.url(p);
    let id_number = new_id_number();
    let secrets = json!({"name": "Qiu Zhenhua", "id_number": id_number, "phone": "13987654321",
                         "address": "88 Riverside Lane, Yiqiao", "location": {"lat": 30.05, "lon": 120.05}});
    let registered: Value = client
        .post(url("/v1/residents"))
        .json(&secrets)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resident_token = registered["access_token"].as_str().unwrap().to_owned();
    let resident_id = registered["resident_id"].as_str().unwrap().to_owned();
    let code: Value = client
        .get(url("/v1/residents/me/code"))
        .bearer_auth(&resident_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = code["token"].as_str().unwrap().to_owned();
    let shelter: Value = client
        .post(url("/v1/shelters"))
        .bearer_auth(&official)
        .json(&json!({"name": "School", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shelter = shelter["id"].as_str().unwrap().to_owned();
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter]}))
        .await;
    let calls = [
        client.get(url(&format!("/v1/residents/{resident_id}"))).bearer_auth(&official),
        client.post(url("/v1/verify")).bearer_auth(&staff).json(&json!({"token": code})),
        client.post(url(&format!("/v1/shelters/{shelter}/checkins"))).bearer_auth(&staff).json(&json!({"token": code})),
        client.post(url("/v1/reports")).bearer_auth(&resident_token).json(&json!({"category": "flooding",
            "text": "Qiu Zhenhua's street at 88 Riverside Lane is under water", "location": {"lat": 30.05, "lon": 120.05}})),
        // Refused: the same document again, a malformed phone, a bad token that looks like a name.
        client.post(url("/v1/residents")).json(&secrets),
        client.post(url("/v1/residents")).json(&json!({"name": "Qiu Zhenhua", "id_number": id_number, "phone": "13987654321x"})),
        client.get(url("/v1/residents/me")).bearer_auth("Qiu-Zhenhua-13987654321"),
        client.patch(url(&format!("/v1/residents/{resident_id}"))).bearer_auth(&official)
            .json(&json!({"phone": "not a phone 13987654321", "reason": "call"})),
    ];
    for c in calls {
        let status = c.send().await.unwrap().status();
        assert!(status.as_u16() < 500, "{status}");
    }
    // Let the server flush what it logs about those requests.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.matches("request").count() >= 8,
        "requests are logged at info:\n{log}"
    );
    for secret in [
        "Qiu",
        "Zhenhua",
        &id_number,
        &id_number[id_number.len() - 6..],
        "13987654321",
        "Riverside",
        &resident_token,
        &staff,
        &official,
        &code,
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
}
