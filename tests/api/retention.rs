//! Privacy over a season: the audit chain holds personal values only sealed under a key per
//! resident (forgotten when the key is destroyed, every hash still verifying); a chain written
//! before sealing is resealed with its old signed heads still holding; and after an incident's
//! all-clear and its retention period, what belonged to it is anonymised while the command
//! post's counts stand.

use crate::helpers::*;
use serde_json::{Value, json};

/// Every stored text of the audit entries about `subject`, as the database holds them.
async fn stored_audit_text(app: &TestApp, subject: &str) -> String {
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        safecode::on_db!(&app.ctx.db, |c| {
            sqlx::query_as("SELECT before, after, reason FROM audit_log WHERE subject = $1")
                .bind(subject)
                .fetch_all(c)
                .await
                .unwrap()
        });
    rows.into_iter()
        .flat_map(|(a, b, c)| [a, b, c])
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
}

async fn audit_about(app: &TestApp, subject: &str) -> Vec<Value> {
    let v: Value = json_ok(
        app.get(
            &format!("/v1/audit?subject={subject}&limit=1000"),
            &app.admin_token,
        )
        .await,
    )
    .await;
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn personal_values_in_the_audit_chain_are_sealed_read_back_and_forgotten_with_the_key() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (id, me) = resident_at(&app, 30.05, 120.05, &["wheelchair"]).await;
    let res = app
        .patch(
            &format!("/v1/residents/{id}"),
            &official,
            &json!({"address": "富春江路 77 号", "location": {"lat": 30.0613, "lon": 120.0717},
                    "reason": "needs insulin twice a day"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);

    // In the database: ciphertext only; the facts that identify nobody stay readable.
    let subject = format!("resident:{id}");
    let stored = stored_audit_text(&app, &subject).await;
    for secret in ["insulin", "30.0613", "120.0717", "wheelchair", "30.05"] {
        assert!(!stored.contains(secret), "{secret} in the clear: {stored}");
    }
    assert!(
        stored.contains(&format!("sealed:v1:{subject}:")),
        "{stored}"
    );
    assert!(stored.contains("\"located\":true"), "{stored}");

    // An auditor reads them back.
    let entries = audit_about(&app, &subject).await;
    let update = entries
        .iter()
        .find(|e| e["action"] == "resident.update")
        .expect("the update is audited");
    assert_eq!(update["reason"], "needs insulin twice a day");
    assert_eq!(update["after"]["location"]["lat"], 30.0613);
    assert_eq!(update["before"]["location"]["lat"], 30.05);
    let register = entries
        .iter()
        .find(|e| e["action"] == "resident.register")
        .unwrap();
    assert_eq!(register["after"]["needs"], json!(["wheelchair"]));
    assert_eq!(app.audit_verify().await["ok"], true);

    // With no incident open, deleting themselves destroys their key at once: what the chain
    // sealed about them is forgotten, and every link still holds.
    let res = app.delete("/v1/residents/me", &me).await;
    assert_eq!(json_ok(res).await["status"], "deleted");
    let entries = audit_about(&app, &subject).await;
    let update = entries
        .iter()
        .find(|e| e["action"] == "resident.update")
        .unwrap();
    assert_eq!(update["reason"], "forgotten");
    assert_eq!(update["after"]["location"], "forgotten");
    assert_eq!(update["after"]["address"], "forgotten");
    let verified = app.audit_verify().await;
    assert_eq!(verified["ok"], true, "{verified}");
}

/// Appends entries as a version before sealing wrote them: values in the clear, linked.
async fn append_unsealed(app: &TestApp, drafts: &[safecode::domain::AuditDraft]) {
    use safecode::domain::ChainHash;
    use safecode::domain::audit::AuditRecord;
    let mut tx = app.ctx.db.begin().await.unwrap();
    safecode::on_tx!(&mut tx, |c| {
        for d in drafts {
            let (seq, prev): (i64, Vec<u8>) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
            )
            .fetch_one(&mut *c)
            .await
            .unwrap();
            let prev = ChainHash::from_slice(&prev).unwrap();
            let r = AuditRecord::from_draft(seq, chrono::Utc::now(), d);
            let hash = r.chain_hash(&prev);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, subject, before, after, reason, \
                 prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(r.seq)
            .bind(r.at)
            .bind(&r.actor)
            .bind(&r.action)
            .bind(&r.subject)
            .bind(&r.before)
            .bind(&r.after)
            .bind(&r.reason)
            .bind(&prev.0[..])
            .bind(&hash.0[..])
            .execute(&mut *c)
            .await
            .unwrap();
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&hash.0[..])
                .execute(&mut *c)
                .await
                .unwrap();
        }
    });
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_chain_written_before_sealing_is_resealed_once_and_its_old_heads_still_hold() {
    let app = spawn_app().await;
    let (id, _) = resident_at(&app, 30.05, 120.05, &[]).await;
    let subject = format!("resident:{id}");
    append_unsealed(
        &app,
        &[
            safecode::domain::AuditDraft::new("official:x", "resident.update")
                .subject(subject.clone())
                .before(json!({"location": {"lat": 30.0123, "lon": 120.0456}}))
                .after(json!({"location": {"lat": 30.0789, "lon": 120.0321}}))
                .reason("lives upstairs, no lift, uses a wheelchair"),
            safecode::domain::AuditDraft::new("official:x", "override.request")
                .subject("zone:z")
                .reason("the old people's home on Xixing road"),
        ],
    )
    .await;
    assert!(stored_audit_text(&app, &subject).await.contains("no lift"));
    // A head signed over the unsealed chain, kept outside the database by an auditor.
    safecode::service::audit::anchor(&app.ctx)
        .await
        .unwrap()
        .expect("the head is signed");
    let old_head: Value = json_ok(app.get("/v1/audit/head", &app.admin_token).await).await;
    app.exec_sql("UPDATE meta SET value = '0' WHERE key = 'audit_sealed'")
        .await;

    // The next server to start reseals the chain, once.
    let second = another_server(&app).await;
    let stored = stored_audit_text(&app, &subject).await;
    for secret in ["no lift", "30.0123", "30.0789"] {
        assert!(!stored.contains(secret), "{secret} still in the clear");
    }
    let zone_text = stored_audit_text(&app, "zone:z").await;
    assert!(!zone_text.contains("Xixing"), "{zone_text}");
    assert!(
        second
            .audit_actions()
            .await
            .contains(&"audit.reseal".to_owned())
    );
    let reseals = || async {
        second
            .audit_actions()
            .await
            .iter()
            .filter(|a| *a == "audit.reseal")
            .count()
    };
    let _third = another_server(&app).await;
    assert_eq!(reseals().await, 1, "a resealed chain is not resealed again");

    // Readable to an auditor; the whole chain verifies, and so does the head signed before.
    let entries = audit_about(&second, &subject).await;
    let update = entries
        .iter()
        .find(|e| e["action"] == "resident.update")
        .unwrap();
    assert_eq!(
        update["reason"],
        "lives upstairs, no lift, uses a wheelchair"
    );
    assert_eq!(update["before"]["location"]["lat"], 30.0123);
    assert_eq!(second.audit_verify().await["ok"], true);
    let against_old = json_ok(
        second
            .post(
                "/v1/audit/verify",
                &second.admin_token,
                &json!({"heads": [old_head["cose"]]}),
            )
            .await,
    )
    .await;
    assert_eq!(against_old["ok"], true, "{against_old}");

    // Without the head signed at the reseal, the same rewrite is what an attacker would have
    // done: the old head no longer proves it. (Servers re-sign the current head every second,
    // from what they signed themselves: the chain moves on first, so that the signature taken
    // away is not put back by a server that rightly remembers the reseal.)
    app.create_user("staff", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let reseal_seq: i64 = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_scalar("SELECT seq FROM audit_log WHERE action = 'audit.reseal'")
            .fetch_one(c)
            .await
            .unwrap()
    });
    app.exec_sql(&format!(
        "DELETE FROM audit_anchors WHERE seq = {reseal_seq}"
    ))
    .await;
    let against_old = json_ok(
        second
            .post(
                "/v1/audit/verify",
                &second.admin_token,
                &json!({"heads": [old_head["cose"]]}),
            )
            .await,
    )
    .await;
    assert_eq!(against_old["ok"], false, "{against_old}");
}

/// A person of the test, with what must not outlive the incident where it does not belong.
struct Person {
    id: String,
    token: String,
    name: String,
    phone: String,
    last4: String,
}

fn random_name() -> String {
    // Three CJK characters from a block no fixture uses: unique to this run.
    (0..3)
        .map(|_| char::from_u32(0x5000 + rand::random::<u32>() % 0x3000).unwrap())
        .collect::<String>()
        + "某"
}

/// A resident whose ID's last four differ from those of `others` (three random digits and an X
/// would collide now and then, and the search would then find one person's in another's row).
async fn person(app: &TestApp, others: &[Person]) -> Person {
    let name = random_name();
    let phone = format!("139{:08}", rand::random::<u32>() % 100_000_000);
    // An ID number whose last four end in X: four digits alone occur in any database (times,
    // counts), so the search would find them whoever they belonged to.
    let id_number = std::iter::repeat_with(new_id_number)
        .find(|n| n.ends_with('X') && others.iter().all(|o| o.last4 != n[14..]))
        .unwrap();
    let mut body = resident_body();
    body["name"] = json!(name);
    body["phone"] = json!(phone);
    body["id_number"] = json!(id_number);
    body["location"] = json!({"lat": 30.05, "lon": 120.05});
    let res = app.register(&body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let v: Value = res.json().await.unwrap();
    Person {
        id: v["resident_id"].as_str().unwrap().to_owned(),
        token: v["access_token"].as_str().unwrap().to_owned(),
        name,
        phone,
        last4: id_number[14..].to_owned(),
    }
}

impl Person {
    fn secrets(&self) -> [&str; 3] {
        [&self.name, &self.phone, &self.last4]
    }
}

/// Every table's rows as bytes, by table: what a copy of the database holds.
async fn every_table(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if app.is_postgres() {
        let tables: Vec<String> = safecode::on_db!(&app.ctx.db, |c| {
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                .fetch_all(c)
                .await
                .unwrap()
        });
        for t in tables {
            let rows: Vec<String> = safecode::on_db!(&app.ctx.db, |c| {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT CAST(x.* AS TEXT) FROM \"{t}\" x"
                )))
                .fetch_all(c)
                .await
                .unwrap()
            });
            out.push((t, rows.join("\n").into_bytes()));
        }
    } else {
        let tables: Vec<String> = safecode::on_db!(&app.ctx.db, |c| {
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(c)
                .await
                .unwrap()
        });
        for t in tables {
            let columns: Vec<String> = safecode::on_db!(&app.ctx.db, |c| {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{t}')"
                )))
                .fetch_all(c)
                .await
                .unwrap()
            });
            let select = columns
                .iter()
                .map(|c| format!("CAST(\"{c}\" AS BLOB)"))
                .collect::<Vec<_>>()
                .join(", ");
            let safecode::store::Db::Sqlite { read, .. } = &app.ctx.db else {
                unreachable!()
            };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {select} FROM \"{t}\"")))
                .fetch_all(read)
                .await
                .unwrap();
            let mut bytes = Vec::new();
            for r in &rows {
                use sqlx::Row;
                for i in 0..columns.len() {
                    if let Ok(Some(v)) = r.try_get::<Option<Vec<u8>>, _>(i) {
                        bytes.extend_from_slice(&v);
                        bytes.push(b'|');
                    }
                }
                bytes.push(b'\n');
            }
            out.push((t, bytes));
        }
    }
    out
}

/// Whether `needle` occurs in `hay` other than inside a long run of base64url characters
/// (a sealed value's ciphertext, where four characters of an ID number may occur by chance).
fn holds(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let could_be_ciphertext = n.iter().all(|&c| b64(c));
    hay.windows(n.len()).enumerate().any(|(i, w)| {
        if w != n {
            return false;
        }
        if !could_be_ciphertext {
            return true;
        }
        let mut start = i;
        while start > 0 && b64(hay[start - 1]) {
            start -= 1;
        }
        let mut end = i + n.len();
        while end < hay.len() && b64(hay[end]) {
            end += 1;
        }
        end - start < 24
    })
}

/// The command post's figures of an alert and a shelter's relief.
async fn figures(app: &TestApp, official: &str, alert: &str, shelter: &str) -> Value {
    let status = json_ok(app.get(&format!("/v1/alerts/{alert}"), official).await).await;
    let day = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    let given = json_ok(
        app.get(
            &format!("/v1/shelters/{shelter}/distributions?date={day}"),
            official,
        )
        .await,
    )
    .await;
    let quantities: Vec<Value> = given["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| json!([d["item"], d["quantity"], d["given_at"]]))
        .collect();
    json!({
        "recipients": status["recipients"], "acknowledged": status["acknowledged"],
        "pending": status["pending"], "reached": status["reached"],
        "median": status["median_seconds_to_ack"], "zones": status["zones"],
        "relief": quantities,
    })
}

fn retention_command(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut c = std::process::Command::new(TestApp::binary());
    c.arg("retention")
        .args(args)
        .env("DATABASE_URL", app.settings.database_url.as_str())
        .env("SAFECODE_KEYS_DIR", &app.settings.keys_dir)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    c
}

#[tokio::test]
async fn after_the_all_clear_and_its_retention_an_incident_is_forgotten_and_its_counts_stand() {
    let app = spawn_app().await;
    let official = app.official().await;
    let second = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let inc: Value = json_ok(
        app.post(
            "/v1/incidents",
            &official,
            &json!({"name": "Typhoon Doksuri"}),
        )
        .await,
    )
    .await;
    let inc_id = inc["id"].as_str().unwrap().to_owned();
    let mut people = Vec::new();
    for _ in 0..5 {
        let p = person(&app, &people).await;
        people.push(p);
    }
    json_ok(
        app.order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "Levee breach", "incident_id": inc_id}),
        )
        .await,
    )
    .await;

    // An alert, acknowledged by two; SMS waiting in the outbox for the others.
    let mut form = alert_form(json!([zone]));
    form["incident_id"] = json!(inc_id);
    let alert: Value = json_ok(app.post("/v1/alerts", &official, &form).await).await;
    let alert_id = alert["id"].as_str().unwrap().to_owned();
    for p in &people[..2] {
        let res = app
            .post(&format!("/v1/alerts/{alert_id}/ack"), &p.token, &json!({}))
            .await;
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
    }
    // A hazard report with a photo, naming a neighbour.
    let png = app
        .get("/v1/residents/me/code?format=png", &people[2].token)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let report_form = reqwest::multipart::Form::new()
        .text("lat", "30.05")
        .text("lon", "120.05")
        .text("category", "trapped_people")
        .text(
            "text",
            format!(
                "{} is on the roof, call {}",
                people[4].name, people[4].phone
            ),
        )
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png)
                .file_name("roof.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let res = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(&people[2].token)
        .multipart(report_form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    // Stays and relief.
    let shelter: Value = json_ok(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "义桥中学", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 10}),
        )
        .await,
    )
    .await;
    let s = shelter["id"].as_str().unwrap().to_owned();
    let item: Value = json_ok(
        app.post(
            "/v1/relief-items",
            &official,
            &json!({"name": "饮用水", "unit": "bottle", "quota": 4, "per": "person"}),
        )
        .await,
    )
    .await;
    let mut stays = Vec::new();
    for p in &people[..2] {
        let code = code_of(&app, &p.token).await;
        let stay: Value = json_ok(
            app.post(
                &format!("/v1/shelters/{s}/checkins"),
                &official,
                &json!({"token": code}),
            )
            .await,
        )
        .await;
        let given = app
            .post(
                &format!("/v1/shelters/{s}/distributions"),
                &official,
                &json!({"token": code, "item_id": item["id"], "quantity": 2}),
            )
            .await;
        assert_eq!(given.status(), 201, "{:?}", given.text().await);
        stays.push(stay["stay_id"].clone());
    }
    // An override whose reason names the person, approved by a second official; an appeal
    // in the person's own words, decided.
    let p3 = &people[3];
    let expires = chrono::Utc::now() + chrono::Duration::days(3);
    let o: Value = json_ok(
        app.post(
            &format!("/v1/residents/{}/overrides", p3.id),
            &official,
            &json!({"colour": "red", "reason_code": "hazard_at_home",
                    "reason": format!("{} lives alone on the dyke, phone {}", p3.name, p3.phone),
                    "expires_at": expires}),
        )
        .await,
    )
    .await;
    app.approve(&second, &o).await;
    let appeal: Value = json_ok(
        app.post(
            "/v1/residents/me/appeals",
            &p3.token,
            &json!({"text": format!("I am {}, ID ending {}, my house is on a hill", p3.name, p3.last4)}),
        )
        .await,
    )
    .await;
    let res = app
        .post(
            &format!("/v1/appeals/{}/decision", appeal["id"].as_str().unwrap()),
            &second,
            &json!({"decision": "rejected", "reason": format!("{} seen at home, water rising", p3.name)}),
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    // Two ask to be deleted while the order stands: queued.
    let deleted = [&people[0], &people[4]];
    for p in deleted {
        let res = app.delete("/v1/residents/me", &p.token).await;
        assert_eq!(res.status(), 202, "{:?}", res.text().await);
    }

    let before = figures(&app, &official, &alert_id, &s).await;
    assert_eq!(before["recipients"], 5);
    assert_eq!(before["acknowledged"], 2);
    let res = app
        .post(
            &format!("/v1/incidents/{inc_id}/all-clear"),
            &official,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Home again.
    for stay in &stays {
        let out = app
            .post(
                &format!("/v1/shelters/{s}/checkouts"),
                &official,
                &json!({"stay_id": stay, "reason": "returned_home"}),
            )
            .await;
        assert_eq!(out.status(), 200, "{:?}", out.text().await);
    }
    assert_eq!(app.audit_verify().await["ok"], true);

    // Not yet due: a run now does nothing to the incident.
    let early = retention_command(&app, &["run"], &[])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(
        early.status.success(),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    let early: Value = serde_json::from_slice(&early.stdout).unwrap();
    assert_eq!(early["incidents"], json!([]));

    let later = (chrono::Utc::now() + chrono::Duration::days(31)).to_rfc3339();
    // A run killed (-9) half-way, in small slow batches.
    let mut slow = retention_command(
        &app,
        &["run", "--now", &later],
        &[
            ("SAFECODE_RETENTION_BATCH", "1"),
            ("SAFECODE_RETENTION_PAUSE_MS", "300"),
        ],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let started = std::time::Instant::now();
    loop {
        let marked: i64 = safecode::on_db!(&app.ctx.db, |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE anonymised_at IS NOT NULL")
                .fetch_one(c)
                .await
                .unwrap()
        });
        if marked > 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the slow run never got to the alert"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    slow.kill().unwrap();
    slow.wait().unwrap();
    let mid = retention_command(&app, &["report", "--now", &later], &[])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    let mid: Value = serde_json::from_slice(&mid.stdout).unwrap();
    assert!(mid["incidents"][0]["anonymised_at"].is_null(), "{mid}");
    assert!(
        mid["incidents"][0]["still_held"]["alert_recipients"]
            .as_i64()
            .unwrap()
            > 0,
        "killed half-way: {mid}"
    );
    // The alert's counts were kept before its list went: the command post sees them already.
    assert_eq!(
        figures(&app, &official, &alert_id, &s).await["acknowledged"],
        2
    );

    // Two runs at once finish it; exactly one of them records the incident as done.
    let a = retention_command(&app, &["run", "--now", &later], &[]).output_off_runtime();
    let b = retention_command(&app, &["run", "--now", &later], &[]).output_off_runtime();
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let done: usize = [&a, &b]
        .iter()
        .map(|o| {
            serde_json::from_slice::<Value>(&o.stdout).unwrap()["incidents"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(done, 1);

    let report = retention_command(&app, &["report", "--now", &later], &[])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(report.status.success());
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let inc_report = &report["incidents"][0];
    assert!(inc_report["anonymised_at"].is_string(), "{report}");
    assert_eq!(inc_report["alerts_with_lists"], 0);
    assert_eq!(inc_report["alerts_anonymised"], 1);
    for (table, n) in inc_report["still_held"].as_object().unwrap() {
        assert_eq!(n, 0, "{table} still names people: {report}");
    }
    assert_eq!(report["residents_erased"], 2, "{report}");
    assert_eq!(report["residents_held"], 3, "the season's residents stay");
    assert_eq!(report["deletions_waiting"], 0);

    // The chain verifies; the command post's figures are what they were.
    assert_eq!(app.audit_verify().await["ok"], true);
    assert_eq!(figures(&app, &official, &alert_id, &s).await, before);
    // What the chain sealed about the deleted is forgotten.
    let entries = audit_about(&app, &format!("resident:{}", people[4].id)).await;
    let register = entries
        .iter()
        .find(|e| e["action"] == "resident.register")
        .unwrap();
    assert_eq!(register["after"]["needs"], "forgotten");

    // A copy of the database: the deleted are nowhere; everyone else only in `residents`.
    let tables = every_table(&app).await;
    for p in &people {
        for secret in p.secrets() {
            for (table, bytes) in &tables {
                let allowed = table == "residents" && !deleted.iter().any(|d| d.id == p.id);
                if !allowed {
                    assert!(
                        !holds(bytes, secret),
                        "{secret:?} of a resident is in {table}"
                    );
                }
            }
        }
    }
    if let Some(path) = app.sqlite_file() {
        let mut file = std::fs::read(&path).unwrap();
        file.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for p in deleted {
            for secret in p.secrets() {
                assert!(
                    !holds(&file, secret),
                    "{secret:?} of a deleted resident is in the file"
                );
            }
        }
        // The kept are there, as the design says: the search does find what is present.
        assert!(holds(&file, &people[1].name));
    }
}

#[tokio::test]
async fn after_the_seasons_end_the_seasons_residents_are_erased_unless_an_incident_needs_them() {
    let app = spawn_app().await;
    let official = app.official().await;
    let first = person(&app, &[]).await;
    let second = person(&app, std::slice::from_ref(&first)).await;
    let people = [first, second];
    let inc: Value = json_ok(
        app.post("/v1/incidents", &official, &json!({"name": "Late storm"}))
            .await,
    )
    .await;
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let season = [("SAFECODE_SEASON_END", yesterday.as_str())];
    let run = || async {
        let out = retention_command(&app, &["run"], &season)
            .output_off_runtime()
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // An incident is still open: everyone is kept.
    assert_eq!(run().await["season_residents_erased"], 0);
    assert_eq!(
        json_ok(app.get("/v1/residents/me", &people[0].token).await).await["name"],
        json!(people[0].name)
    );
    let res = app
        .post(
            &format!("/v1/incidents/{}/all-clear", inc["id"].as_str().unwrap()),
            &official,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Within the incident's retention: still kept.
    assert_eq!(run().await["season_residents_erased"], 0);
    // Past it (the retention set to 0 days), the season is over for everyone.
    let out = retention_command(
        &app,
        &["run"],
        &[season[0], ("SAFECODE_RETENTION_DAYS", "0")],
    )
    .output_off_runtime()
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["season_residents_erased"], 2, "{done}");
    // Signed out everywhere (this server remembers a token's holder for auth_cache_ms).
    for p in &people {
        let mut status = 0;
        for _ in 0..100 {
            status = app
                .get("/v1/residents/me", &p.token)
                .await
                .status()
                .as_u16();
            if status == 401 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, 401);
    }
    let report = retention_command(&app, &["report"], &season)
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["residents_held"], 0, "{report}");
    assert_eq!(report["resident_keys_held"], 0);
    assert_eq!(report["season_keys_held"], 0);
    let tables = every_table(&app).await;
    for p in &people {
        for secret in p.secrets() {
            for (table, bytes) in &tables {
                assert!(!holds(bytes, secret), "{secret:?} is still in {table}");
            }
        }
    }
    assert_eq!(app.audit_verify().await["ok"], true);
}
