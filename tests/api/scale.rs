//! Several servers on one database: what must hold across them is held by the database.

use crate::helpers::*;
use safecode::startup::Application;
use serde_json::{Value, json};

#[tokio::test]
async fn several_servers_start_together_and_agree() {
    let (settings, _dir) = test_settings().await;
    let (a, b, c) = tokio::join!(
        Application::build(&settings),
        Application::build(&settings),
        Application::build(&settings)
    );
    let apps = [a.unwrap(), b.unwrap(), c.unwrap()];
    let admins: Vec<&String> = apps
        .iter()
        .filter_map(|a| a.bootstrap_admin_token.as_ref())
        .collect();
    assert_eq!(
        admins.len(),
        1,
        "exactly one server creates the first admin"
    );
    let admin = admins[0].clone();
    let urls: Vec<String> = apps
        .iter()
        .map(|a| format!("http://127.0.0.1:{}", a.port()))
        .collect();
    for app in apps {
        tokio::spawn(app.run_until_stopped());
    }
    let client = crate::helpers::test_client();

    // The same person registering through every server at once: every answer alike (it must
    // not tell whether the number was known), and exactly one record holds the document.
    let body = resident_body();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (client, url, body) = (client.clone(), urls[i % 3].clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{url}/v1/residents"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let official: Value = client
        .post(format!("{}/v1/users", urls[0]))
        .bearer_auth(&admin)
        .json(&json!({"role": "official", "name": "Official Wu"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found: Value = client
        .post(format!("{}/v1/residents/lookup", urls[1]))
        .bearer_auth(official["token"].as_str().unwrap())
        .json(&json!({"id_number": body["id_number"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = found["records"].as_array().unwrap();
    assert_eq!(records.len(), 12, "{found}");
    assert_eq!(
        records
            .iter()
            .filter(|r| r["standing"] == "primary")
            .count(),
        1,
        "{found}"
    );

    let v: Value = client
        .get(format!("{}/v1/audit/verify", urls[2]))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["entries"],
        1 + 1 + 12 + 1 + 1,
        "the default rules, the first admin, twelve registrations, the official, the lookup"
    );
}
