//! Import throughput: `cargo bench --bench import` (IMPORT_BENCH_COUNT, default 1,000,000).
//!
//! Two measurements of the same rows in one run, on SQLite, so that the noise of this shared
//! machine cancels out in the ratio:
//! - baseline: a bare multi-row INSERT of pre-built rows into the residents table (no CSV, no
//!   checks, no keyed hash, sequential status slots), 1,000 rows a statement, 4,000 a transaction;
//! - import: `safecode import residents FILE.csv` (release binary): streamed CSV parsing, every
//!   validation, the HMAC of each ID number, random status slots, duplicate detection and an
//!   audit entry per batch. Its peak memory is read from the child process.

use safecode::config::DatabaseUrl;
use safecode::store::Db;
use sha2::Digest;
use std::time::Instant;

struct Row {
    public_id: uuid::Uuid,
    status_index: i32,
    name: String,
    id_hash: Vec<u8>,
    id_last4: String,
    phone: String,
    address: String,
    lat: f64,
    lon: f64,
    birth_year: i32,
    needs: String,
}

fn rows_from_csv(text: &str) -> Vec<Row> {
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            Row {
                public_id: uuid::Uuid::new_v4(),
                status_index: i as i32,
                name: f[0].to_owned(),
                id_hash: sha2::Sha256::digest(f[2].as_bytes()).to_vec(),
                id_last4: f[2][14..].to_owned(),
                phone: f[3].to_owned(),
                address: f[4].to_owned(),
                lat: f[5].parse().unwrap_or(0.0),
                lon: f[6].parse().unwrap_or(0.0),
                birth_year: f[7].parse().unwrap_or(0),
                needs: format!(
                    "[{}]",
                    f[8].split(';')
                        .filter(|s| !s.is_empty())
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }
        })
        .collect()
}

async fn bare_insert(db: &Db, rows: &[Row]) -> f64 {
    let Db::Sqlite { write: pool, .. } = db else {
        unreachable!("the bench runs on SQLite")
    };
    let now = chrono::Utc::now();
    let start = Instant::now();
    for tx_rows in rows.chunks(safecode::service::import::BATCH_ROWS) {
        let mut tx = pool.begin().await.unwrap();
        for chunk in tx_rows.chunks(
            std::env::var("BARE_ROWS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000),
        ) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO residents (public_id, status_index, name, id_type, id_hash, doc_hash, \
                 standing, id_last4, phone, address, lat, lon, birth_year, needs, flags, source, \
                 created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.public_id)
                    .push_bind(r.status_index)
                    .push_bind(&r.name)
                    .push_bind("cn_resident_id")
                    .push_bind(&r.id_hash)
                    .push_bind(&r.id_hash)
                    .push_bind("primary")
                    .push_bind(&r.id_last4)
                    .push_bind(&r.phone)
                    .push_bind(&r.address)
                    .push_bind(r.lat)
                    .push_bind(r.lon)
                    .push_bind(r.birth_year)
                    .push_bind(&r.needs)
                    .push_bind("[]")
                    .push_bind("import")
                    .push_bind(now)
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    let count: u64 = std::env::var("IMPORT_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("residents.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    safecode::synthetic::write_csv(&mut out, count, 42).unwrap();
    drop(out);
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let rows = rows_from_csv(&text);
    drop(text);
    assert_eq!(rows.len() as u64, count);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bare_secs = runtime.block_on(async {
        let url = DatabaseUrl::Sqlite(format!(
            "sqlite://{}",
            dir.path().join("bare/db.sqlite").display()
        ));
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        bare_insert(&db, &rows).await
    });
    drop(rows);

    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_safecode"))
        .args(["import", "residents"])
        .arg(&csv_path)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("full/db.sqlite").display()),
        )
        .env("SAFECODE_KEYS_DIR", dir.path().join("keys"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let import_secs = started.elapsed().as_secs_f64();
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&child.stdout).unwrap();
    assert_eq!(report["imported"].as_u64(), Some(count), "{report}");
    let stderr = String::from_utf8_lossy(&child.stderr);
    let peak = stderr
        .lines()
        .find(|l| l.starts_with("peak memory"))
        .unwrap_or("peak memory unknown");

    let bare_rate = count as f64 / bare_secs;
    let import_rate = count as f64 / import_secs;
    println!("import bench: {count} residents on SQLite");
    println!("  bare multi-row INSERT : {bare_secs:7.2} s  {bare_rate:>10.0} rows/s");
    println!(
        "  safecode import       : {import_secs:7.2} s  {import_rate:>10.0} residents/s  ({peak})"
    );
    println!(
        "  ratio import / bare   : {:.2}  (goal >= 0.15; absolute goal >= 100000/s)",
        import_rate / bare_rate
    );
}
