//! Import throughput: `cargo bench --bench import` (IMPORT_BENCH_COUNT, default 1,000,000;
//! IMPORT_BENCH_DB=postgres for PostgreSQL, IMPORT_BENCH_DISTRICTS to spread the residents).
//!
//! On PostgreSQL (issue 22): a bare `COPY` of the same rows (pre-hashed, sequential slots),
//! streamed from the file in one statement into a freshly migrated `residents` (the same
//! indexes), against `safecode import residents` into another fresh database; goal >= 0.5.
//!
//! On SQLite, two measurements of the same rows in one run, so that the noise of this shared
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

/// One CSV line as a COPY text line, converted as `rows_from_csv` converts it.
fn copy_line(out: &mut String, i: usize, line: &str, now: &str) {
    use std::fmt::Write;
    let r = &rows_from_csv(&format!("header\n{line}"))[0];
    let _ = writeln!(
        out,
        "{}\t{}\t{}\tcn_resident_id\t\\\\x{h}\t\\\\x{h}\tprimary\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t[]\timport\t{now}\t{now}",
        r.public_id,
        i,
        r.name,
        r.id_last4,
        r.phone,
        r.address,
        r.lat,
        r.lon,
        r.birth_year,
        r.needs,
        h = hex::encode(&r.id_hash),
    );
}

/// The bare COPY: the file's rows, converted to COPY text beforehand (not timed), streamed
/// from that file into `residents` in one statement.
async fn bare_copy(url: &str, csv_path: &std::path::Path) -> f64 {
    use std::io::{BufRead, Read, Write};
    let copy_path = csv_path.with_extension("copy");
    {
        let now = chrono::Utc::now().to_rfc3339();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&copy_path).unwrap());
        let file = std::io::BufReader::new(std::fs::File::open(csv_path).unwrap());
        let mut line_text = String::new();
        for (i, line) in file.lines().skip(1).enumerate() {
            line_text.clear();
            copy_line(&mut line_text, i, &line.unwrap(), &now);
            out.write_all(line_text.as_bytes()).unwrap();
        }
        out.flush().unwrap();
    }
    let db = Db::connect(&DatabaseUrl::Postgres(url.to_owned()), 2)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let mut conn = pool.acquire().await.unwrap();
    let mut file = std::fs::File::open(&copy_path).unwrap();
    let start = Instant::now();
    let mut copy = conn
        .copy_in_raw(
            "COPY residents (public_id, status_index, name, id_type, id_hash, doc_hash, standing, \
             id_last4, phone, address, lat, lon, birth_year, needs, flags, source, created_at, \
             updated_at) FROM STDIN",
        )
        .await
        .unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        copy.send(&chunk[..n]).await.unwrap();
    }
    copy.finish().await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&copy_path);
    secs
}

/// `safecode import residents` into `url`: seconds, the report and its peak-memory line.
fn import(
    csv_path: &std::path::Path,
    url: &str,
    keys: &std::path::Path,
) -> (f64, serde_json::Value, String) {
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_safecode"))
        .args(["import", "residents"])
        .arg(csv_path)
        .env("DATABASE_URL", url)
        .env("SAFECODE_KEYS_DIR", keys)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&child.stdout).unwrap();
    let peak = String::from_utf8_lossy(&child.stderr)
        .lines()
        .find(|l| l.starts_with("peak memory"))
        .unwrap_or("peak memory unknown")
        .to_owned();
    (secs, report, peak)
}

fn postgres(count: u64, dir: &std::path::Path, csv_path: &std::path::Path) {
    let admin = "postgres://postgres@127.0.0.1:5432/postgres";
    let status = std::process::Command::new("scripts/start-postgres.sh")
        .status()
        .unwrap();
    assert!(status.success());
    let pid = std::process::id();
    let (bare, full) = (
        format!("safecode_import_bare_{pid}"),
        format!("safecode_import_full_{pid}"),
    );
    let psql = |sql: String| {
        let ok = std::process::Command::new("psql")
            .args([admin, "-qc", &sql])
            .status()
            .unwrap();
        assert!(ok.success(), "{sql}");
    };
    for name in [&bare, &full] {
        psql(format!("CREATE DATABASE {name}"));
    }
    let url = |name: &str| format!("postgres://postgres@127.0.0.1:5432/{name}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bare_secs = runtime.block_on(bare_copy(&url(&bare), csv_path));
    let (import_secs, report, peak) = import(csv_path, &url(&full), &dir.join("keys"));
    for name in [&bare, &full] {
        psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    assert_eq!(report["imported"].as_u64(), Some(count), "{report}");
    let (bare_rate, import_rate) = (count as f64 / bare_secs, count as f64 / import_secs);
    println!("import bench: {count} residents on PostgreSQL");
    println!("  bare COPY             : {bare_secs:7.2} s  {bare_rate:>10.0} rows/s");
    println!(
        "  safecode import       : {import_secs:7.2} s  {import_rate:>10.0} residents/s  ({peak})"
    );
    println!(
        "  ratio import / bare   : {:.2}  (goal >= 0.5)",
        import_rate / bare_rate
    );
}

fn main() {
    let count: u64 = std::env::var("IMPORT_BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let districts: u32 = std::env::var("IMPORT_BENCH_DISTRICTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("residents.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    safecode::synthetic::write_csv_over(&mut out, count, 42, districts).unwrap();
    drop(out);
    if std::env::var("IMPORT_BENCH_DB").as_deref() == Ok("postgres") {
        postgres(count, dir.path(), &csv_path);
        return;
    }
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

    let (import_secs, report, peak) = import(
        &csv_path,
        &format!("sqlite://{}", dir.path().join("full/db.sqlite").display()),
        &dir.path().join("keys"),
    );
    assert_eq!(report["imported"].as_u64(), Some(count), "{report}");

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
