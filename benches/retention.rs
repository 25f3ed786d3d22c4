//! Retention figures: `cargo bench --bench retention` (RETENTION_BENCH_RESIDENTS, default
//! 1,000,000).
//!
//! An incident of that many residents: one alert to all of them (recipients and an SMS each
//! in the outbox), a shelter stay each (checked out), a hazard report each with text and a
//! small photo. After its all-clear and retention, the retention task anonymises it in its
//! batches (each its own transaction, safe beside live traffic and other servers). Baseline
//! in the same run, on a copy of the same database: the same changes as one bare statement
//! per table, all at once, which no live service could afford (it holds the write lock for
//! the whole time) and which cannot resume after a crash.

#[path = "common/mod.rs"]
mod common;

use safecode::domain::alert::AlertForm;
use safecode::service::{alerts, orders};
use std::time::Instant;

async fn exec(db: &safecode::store::Db, sql: &str) -> u64 {
    let safecode::store::Db::Sqlite { write, .. } = db else {
        unreachable!("the bench runs on SQLite")
    };
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(write)
        .await
        .unwrap()
        .rows_affected()
}

/// `sql` with `$1` the time now, bound as the service binds its times.
async fn exec_now(db: &safecode::store::Db, sql: &str) -> u64 {
    let safecode::store::Db::Sqlite { write, .. } = db else {
        unreachable!("the bench runs on SQLite")
    };
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(chrono::Utc::now())
        .execute(write)
        .await
        .unwrap()
        .rows_affected()
}

async fn run(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let ctx = safecode::startup::context(&settings).await.unwrap();
    let t = Instant::now();
    let (official, zone) = common::zone_of_synthetic_residents(&ctx, n).await;
    let inc = orders::open_incident(
        &ctx,
        &official,
        &orders::IncidentForm {
            name: "Typhoon".into(),
        },
    )
    .await
    .unwrap();
    let form: AlertForm = serde_json::from_value(serde_json::json!({
        "zones": [zone.id], "headline": "Levee breach", "event": "Flood", "language": "en",
        "incident_id": inc.id,
        "description": "Water rising.", "instruction": "Go to the school now.",
        "response_type": "Evacuate", "urgency": "Immediate", "severity": "Extreme",
        "certainty": "Observed"}))
    .unwrap();
    let sent = alerts::send(&ctx, &official, &form, None).await.unwrap();
    assert_eq!(sent.recipients as u64, n);
    alerts::resend(
        &ctx,
        &official,
        sent.id,
        &serde_json::from_value(serde_json::json!({"channels": ["sms"]})).unwrap(),
    )
    .await
    .unwrap();
    // A stay and a report for everyone, written directly: the figures are about removing them.
    exec_now(
        &ctx.db,
        "INSERT INTO shelters (public_id, name, lat, lon, capacity, occupancy, accessibility, status, created_by, created_at, updated_at) \
         VALUES (randomblob(16), 'School', 30.2, 120.3, 10, 0, '[]', 'open', 'bench', $1, $1)",
    )
    .await;
    let now = "$1";
    exec_now(
        &ctx.db,
        &format!(
            "INSERT INTO stays (public_id, shelter_id, resident_id, colour_at_entry, checked_in_at, checked_in_by, checked_out_at, checked_out_by, checkout_reason) \
             SELECT randomblob(16), (SELECT MAX(id) FROM shelters), id, 2, {now}, 'staff:x', {now}, 'staff:x', 'returned_home' FROM residents"
        ),
    )
    .await;
    exec_now(
        &ctx.db,
        &format!(
            "INSERT INTO reports (public_id, resident_id, category, text, lat, lon, urgent, status, photo, photo_type, created_at, updated_at) \
             SELECT randomblob(16), id, 'flooding', 'water in the lane by number ' || id, 30.2, 120.3, 0, 'new', randomblob(2048), 'image/jpeg', {now}, {now} FROM residents"
        ),
    )
    .await;
    orders::all_clear(&ctx, &official, inc.id).await.unwrap();
    let setup = t.elapsed().as_secs_f64();
    ctx.db.scrub(&[]).await.unwrap();

    // The baseline's copy of the same database.
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(dir.path().join("db.sqlite"), &copy).unwrap();
    let mut copy_settings = common::sqlite_settings(dir.path());
    copy_settings.database_url =
        safecode::config::DatabaseUrl::Sqlite(format!("sqlite://{}", copy.display()));
    let copy_ctx = safecode::startup::context(&copy_settings).await.unwrap();

    let later = chrono::Utc::now() + chrono::Duration::days(31);
    let start = Instant::now();
    let summary = safecode::service::retention::run(&ctx, later)
        .await
        .unwrap();
    let task = start.elapsed().as_secs_f64();
    assert_eq!(summary.incidents.len(), 1);
    let done = &summary.incidents[0];
    assert_eq!(done.rows["stays"], n);
    assert_eq!(done.rows["reports"], n);

    let start = Instant::now();
    for sql in [
        "DELETE FROM outbox",
        "DELETE FROM alert_recipients",
        "UPDATE stays SET resident_id = NULL",
        "UPDATE reports SET text = '', note = NULL, photo = NULL, photo_type = NULL, resident_id = NULL",
    ] {
        exec(&copy_ctx.db, sql).await;
    }
    copy_ctx.db.scrub(&[]).await.unwrap();
    let bare = start.elapsed().as_secs_f64();

    println!(
        "anonymising an incident of {n} residents on SQLite: {n} alert recipients, {n} SMS, {n} stays, {n} reports with photos (set-up {setup:.0} s)"
    );
    println!("  bare statements, one per table, at once : {bare:7.2} s");
    println!(
        "  the retention task, in batches of {}   : {task:7.2} s   ({:.1} x the bare statements; {:.0} rows/s)",
        ctx.retention.batch,
        task / bare,
        (4 * n) as f64 / task
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("RETENTION_BENCH_RESIDENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(n));
}
