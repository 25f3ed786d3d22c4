use crate::helpers::*;
use serde_json::{Value, json};

fn csv_with(lines: &[String]) -> String {
    let mut s = String::from("name,id_type,id_number,phone,address,lat,lon,birth_year,needs\n");
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

async fn import(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/residents/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_lines_are_reported_by_number_and_good_lines_are_imported_once() {
    let app = spawn_app().await;
    let official = app.official().await;
    let good: Vec<String> = (0..25)
        .map(|i| {
            format!(
                "居民{i},,{},13912345678,萧山区{i}号,30.2,120.3,,elderly",
                new_id_number()
            )
        })
        .collect();
    let mut lines = good.clone();
    lines.insert(
        3,
        format!("坏校验,,{},,,,,,", bad_checksum(&new_id_number())),
    ); // line 5
    lines.insert(7, format!(",,{},,,,,,", new_id_number())); // line 9: no name
    lines.insert(10, format!("半个位置,,{},,,30.2,,,", new_id_number())); // line 12
    lines.insert(12, "INVALID_UTF8".to_owned()); // line 14
    lines.push(good[0].clone()); // the same person twice in one file
    let body = csv_with(&lines)
        .replace("INVALID_UTF8", &format!("X,,{},,,,,,", new_id_number()))
        .into_bytes();
    let mut bytes = body.clone();
    let at = bytes.windows(3).position(|w| w == b"\nX,").unwrap();
    bytes[at + 1] = 0xff;
    let res = import(&app, &official, bytes.clone()).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["imported"], 25, "{report}");
    assert_eq!(report["already_registered"], 1, "{report}");
    assert_eq!(report["rejected"], 4, "{report}");
    let errs: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &errs[..3],
        &[
            (5, "id_number_checksum"),
            (9, "name_missing"),
            (12, "invalid_location")
        ]
    );
    assert_eq!(errs[3], (14, "invalid_utf8"));

    // Importing the same file again creates no duplicates.
    let again: Value = json_ok(import(&app, &official, bytes).await).await;
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_registered"], 26);
    let count = app.resident_count().await;
    assert_eq!(count, 25);
    let statuses: i64 = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_scalar("SELECT COUNT(DISTINCT status_index) FROM residents")
            .fetch_one(c)
            .await
            .unwrap()
    });
    assert_eq!(statuses, 25, "every resident has a slot of their own");
    assert_eq!(app.audit_verify().await["ok"], true);
}

#[tokio::test]
async fn an_imported_resident_cannot_register_again_and_vice_versa() {
    let app = spawn_app().await;
    let official = app.official().await;
    let body = resident_body();
    assert_eq!(app.register(&body).await.status(), 201);
    let csv = csv_with(&[format!(
        "王小明,cn_resident_id,{},,,,,,",
        body["id_number"].as_str().unwrap()
    )]);
    let report: Value = json_ok(import(&app, &official, csv).await).await;
    assert_eq!(report["already_registered"], 1);
    let id = new_id_number();
    let report: Value = import(&app, &official, csv_with(&[format!("李四,,{id},,,,,,")]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["imported"], 1);
    // Self-registering an imported document is answered as any registration, and kept as
    // a claim beside the imported record for officials to settle.
    let mut again = resident_body();
    again["id_number"] = json!(id);
    assert_eq!(app.register(&again).await.status(), 201);
    let disputes: Value = app
        .get("/v1/residents/disputes", &official)
        .await
        .json()
        .await
        .unwrap();
    let d = &disputes[0]["records"];
    assert_eq!(d[0]["source"], "import");
    assert_eq!(d[0]["standing"], "primary");
    assert_eq!(d[1]["source"], "self");
    assert_eq!(d[1]["standing"], "claim");
}

#[tokio::test]
async fn a_larger_file_streams_through_in_batches() {
    let app = spawn_app().await;
    let official = app.official().await;
    let mut csv = Vec::new();
    let rows = safecode::service::import::BATCH_ROWS as u64 + 500;
    safecode::synthetic::write_csv(&mut csv, rows, rand::random::<u64>() % 1000).unwrap();
    let report: Value = import(&app, &official, String::from_utf8(csv).unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["imported"], rows, "{report}");
    assert_eq!(report["rejected"], 0);
    let entries = app.audit_verify().await["entries"].as_i64().unwrap();
    assert_eq!(entries, 3 + 2, "one audit entry per batch");
}

#[tokio::test]
async fn import_refuses_the_wrong_role_type_or_header() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let csv = csv_with(&[format!("李四,,{},,,,,,", new_id_number())]);
    assert_problem(import(&app, &staff, csv.clone()).await, 403, "forbidden").await;
    assert_problem(
        import(&app, &app.admin_token, csv.clone()).await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .client
        .post(app.url("/v1/residents/import"))
        .bearer_auth(&official)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
    let report: Value = import(&app, &official, "nom,numero\nx,y\n")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["imported"], 0);
    assert_eq!(report["errors"][0]["code"], "missing_columns");
    let report: Value = import(&app, &official, String::new())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["errors"][0]["code"], "empty_file");
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_imports_nothing() {
    let (mut settings, dir) = test_settings().await;
    settings.import_limit_bytes = 1024;
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let lines: Vec<String> = (0..40)
        .map(|i| format!("居民{i},,{},,,,,,", new_id_number()))
        .collect();
    let res = import(&app, &official, csv_with(&lines)).await;
    assert_problem(res, 413, "payload_too_large").await;
    let count = app.resident_count().await;
    assert_eq!(count, 0);
}
