//! Page figures: `cargo bench --bench pages` (PAGE_BENCH_LOADS, default 5 per page).
//!
//! Each page's first load in a fresh headless Chromium (new profile, empty cache) from a
//! release server on loopback: bytes transferred (HTML, scripts, styles; the goal is at most
//! 300 KB) and time until it is interactive (`domContentLoadedEventEnd` of Navigation Timing:
//! the module scripts have run and every button works; the goal is at most 1 s), beside the same browser's first load of `/healthz`, a bare
//! navigation, measured in the same run.

#[path = "../tests/api/browser.rs"]
#[allow(dead_code)]
mod browser;
#[path = "common/mod.rs"]
mod common;

use browser::Browser;
use serde_json::Value;

const TIMING: &str = "const n = performance.getEntriesByType('navigation')[0]; \
    const r = performance.getEntriesByType('resource'); \
    return {interactive: n.domContentLoadedEventEnd, loaded: n.loadEventEnd, \
            bytes: n.transferSize + r.reduce((s, e) => s + e.transferSize, 0), files: 1 + r.length};";

async fn first_load(base: &str, page: &str) -> Value {
    let b = Browser::start(&[]).await;
    b.goto(&format!("{base}{page}")).await;
    b.until("document.readyState === 'complete'", "load").await;
    // Module scripts have run by DOMContentLoaded; a short settle lets loadEventEnd be set.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let v = b.js(TIMING, vec![]).await;
    b.close().await;
    v
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn run(loads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::sqlite_settings(dir.path());
    let app = safecode::startup::Application::build(&settings)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let mut baseline = Vec::new();
    for _ in 0..loads {
        baseline.push(
            first_load(&base, "/healthz").await["interactive"]
                .as_f64()
                .unwrap(),
        );
    }
    let floor = median(baseline);
    println!(
        "first load in a fresh headless Chromium, median of {loads}, loopback, release server"
    );
    println!("  bare navigation (GET /healthz)   interactive {floor:6.1} ms");
    for page in ["/", "/scan", "/ops"] {
        let mut runs = Vec::new();
        for _ in 0..loads {
            runs.push(first_load(&base, page).await);
        }
        let interactive = median(
            runs.iter()
                .map(|r| r["interactive"].as_f64().unwrap())
                .collect(),
        );
        let loaded = median(runs.iter().map(|r| r["loaded"].as_f64().unwrap()).collect());
        let bytes = runs[0]["bytes"].as_f64().unwrap();
        println!(
            "  {page:<6} {:>3} files {:6.1} KB   interactive {interactive:6.1} ms ({:.1} x bare), load {loaded:6.1} ms   (goals <= 300 KB, <= 1000 ms)",
            runs[0]["files"],
            bytes / 1024.0,
            interactive / floor
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let loads = std::env::var("PAGE_BENCH_LOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(loads));
}
