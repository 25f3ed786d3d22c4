//! Every page, in English and in Chinese, audited by axe-core (vendored as a test asset,
//! `tests/assets/axe.min.js`) in Chromium: no serious or critical violation.

use crate::browser::Browser;
use crate::helpers::*;
use serde_json::{Value, json};

const AXE: &str = include_str!("../assets/axe.min.js");

/// The serious and critical violations on the page as it is now.
async fn violations(b: &Browser) -> Vec<Value> {
    b.js(&format!("{AXE}\n;return true;"), vec![]).await;
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations \
               .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
               .map((v) => ({id: v.id, impact: v.impact, help: v.help, \
                 nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary)})))) \
             .catch((e) => done([{id: 'axe-failed', help: String(e)}]));",
            vec![],
        )
        .await
        .expect("axe runs");
    found.as_array().cloned().unwrap_or_default()
}

/// Audits the page in both languages; returns what failed, named by page and language.
async fn audit_both(b: &Browser, what: &str) -> Vec<String> {
    let mut failed = Vec::new();
    for lang in ["en", "zh"] {
        let current = b.js("return document.documentElement.lang;", vec![]).await;
        let is_zh = current.as_str().unwrap_or("").starts_with("zh");
        if (lang == "zh") != is_zh {
            b.click("#lang").await;
        }
        for v in violations(b).await {
            failed.push(format!("{what} [{lang}]: {v}"));
        }
        b.screenshot(&format!("a11y-{what}-{lang}")).await;
    }
    failed
}

#[tokio::test]
async fn every_page_passes_an_accessibility_audit_in_both_languages() {
    let app = spawn_app().await;
    let official = app.official().await;
    app.square_zone(&official, "Yiqiao").await;
    let zone = json_ok(app.get("/v1/zones", &official).await).await["features"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json_ok(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "School", "location": {"lat": 30.06, "lon": 120.06}, "capacity": 10,
                    "accessibility": ["wheelchair"]}),
        )
        .await,
    )
    .await;
    let (_, token) = resident_at(&app, 30.05, 120.05, &[]).await;
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "flood"}),
    )
    .await;
    let person = app.person("official", "a11y.wang", json!({})).await;
    let mut failed = Vec::new();

    let b = Browser::start(&["--window-size=1280,1100".to_owned()]).await;
    b.goto(&app.url("/")).await;
    b.wait_for("#register:not([hidden])").await;
    failed.extend(audit_both(&b, "register").await);
    b.js(
        "localStorage.setItem('sc_resident', JSON.stringify({token: arguments[0]})); location.reload();",
        vec![json!(token)],
    )
    .await;
    b.until(
        "document.querySelectorAll('#where-list li[data-shelter]').length === 1",
        "the red home page",
    )
    .await;
    failed.extend(audit_both(&b, "resident-red").await);

    b.goto(&app.url("/scan")).await;
    b.until("document.readyState === 'complete'", "the scanner")
        .await;
    failed.extend(audit_both(&b, "scan").await);

    b.goto(&app.url("/ops")).await;
    b.wait_for("#password-signin:not([hidden])").await;
    failed.extend(audit_both(&b, "ops-sign-in").await);
    b.fill("#login", "a11y.wang").await;
    b.fill("#password", "a long enough passphrase").await;
    b.fill("#code", &totp_now(&person.secret, 1)).await;
    b.click("#password-signin button[type=submit]").await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 1",
        "the board",
    )
    .await;
    b.until(
        "document.querySelector('#charts figure') !== null",
        "the charts",
    )
    .await;
    failed.extend(audit_both(&b, "ops-board").await);
    b.close().await;
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
