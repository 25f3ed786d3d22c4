//! The pages in a real headless Chromium: a resident registers and sees a green code that
//! decodes, an official's order on /ops turns it red with its reason, the scanner reads a code
//! from a fake camera, and admits offline from the bundle then syncs once. Screenshots are
//! kept in target/browser-artifacts/.

use crate::browser::{Browser, artifacts, y4m_of};
use crate::helpers::*;
use serde_json::{Value, json};

async fn shelter(app: &TestApp, official: &str) -> String {
    let res = app
        .post(
            "/v1/shelters",
            official,
            &json!({"name": "Yiqiao school", "location": {"lat": 30.05, "lon": 120.05},
                    "capacity": 50, "accessibility": []}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn occupancy(app: &TestApp, official: &str, shelter: &str) -> Value {
    app.get(&format!("/v1/shelters/{shelter}"), official)
        .await
        .json::<Value>()
        .await
        .unwrap()["occupancy"]
        .clone()
}

async fn my_code(app: &TestApp, token: &str, format: &str) -> reqwest::Response {
    let res = app
        .get(&format!("/v1/residents/me/code?format={format}"), token)
        .await;
    assert_eq!(res.status(), 200);
    res
}

#[tokio::test]
async fn a_resident_registers_sees_green_then_red_after_an_order_on_ops() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let b = Browser::start(&[]).await;

    b.goto(&app.url("/")).await;
    b.wait_for("#register:not([hidden])").await;
    b.fill("#r-name", "李四").await;
    b.fill("#r-id", &new_id_number()).await;
    b.fill("#register input[name=lat]", "30.05").await;
    b.fill("#register input[name=lon]", "120.05").await;
    b.click("#register .needs input[value=elderly]").await;
    b.click("#register button[type=submit]").await;
    b.until(
        "document.querySelector('#band .band')?.dataset.colour === 'green'",
        "a green band",
    )
    .await;
    b.until(
        "document.querySelector('#code-image img')?.complete",
        "the code image",
    )
    .await;
    assert!(
        b.text("#band").await.contains("GREEN"),
        "the colour in words"
    );
    // One view, one signature: the page draws the token it fetched (issue 22's surge).
    let metrics = app.public_text("/metrics").await;
    let issued: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("codes_issued_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(issued, 1, "{metrics}");
    let shot = b.screenshot("resident-green").await;
    // The code on the screen is a real code: read back from the screenshot and verified.
    let token = safecode::qr::decode(&shot).expect("the code on screen decodes");
    let saved = b
        .js(
            "return JSON.parse(localStorage.getItem('sc_resident'));",
            vec![],
        )
        .await;
    let verified: Value = app
        .post("/v1/verify", &official, &json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["resident"]["id"], saved["id"]);
    assert_eq!(verified["current_colour"], "green");

    // The official orders the zone evacuated on /ops, seeing how many turn red first.
    b.goto(&app.url("/ops")).await;
    b.click("#token-door summary").await;
    b.fill("#ops-token", &official).await;
    b.click("#signin button[type=submit]").await;
    b.wait_for(&format!("#zone-rows tr[data-zone='{zone}']"))
        .await;
    b.wait_for(&format!("#map path[data-zone='{zone}']")).await;
    b.select("#o-zone", &zone).await;
    b.select("#o-level", "mandatory").await;
    b.fill("#o-reason", "Levee breach upstream").await;
    b.click("#o-preview").await;
    b.until("!document.getElementById('o-effect').hidden", "the preview")
        .await;
    let effect = b.text("#o-effect").await;
    assert!(effect.starts_with("1 will turn red"), "{effect}");
    b.screenshot("ops-preview").await;
    b.click("#o-confirm").await;
    b.until(
        "document.querySelector('#orders li') !== null",
        "the order listed",
    )
    .await;
    b.until(
        &format!("document.querySelector(\"#zone-rows tr[data-zone='{zone}'] .red-count\")?.textContent === '1'"),
        "the zone's red count",
    )
    .await;
    b.screenshot("ops-order").await;

    b.goto(&app.url("/")).await;
    b.until(
        "document.querySelector('#band .band')?.dataset.colour === 'red'",
        "a red band after refresh",
    )
    .await;
    let reasons = b.text("#reasons").await;
    assert!(!reasons.is_empty(), "the reason is shown");
    let me: Value = app
        .get(
            &format!("/v1/residents/{}", saved["id"].as_str().unwrap()),
            &official,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["colour"], "red");
    assert!(
        reasons.contains(me["reasons"][0]["text"].as_str().unwrap()),
        "{reasons}"
    );
    b.screenshot("resident-red").await;

    // Chinese on request: the colour in words changes language, not only the hue.
    b.click("#lang").await;
    assert!(b.text("#band").await.contains("红码"));
    b.screenshot("resident-red-zh").await;
    b.close().await;
}

#[tokio::test]
async fn the_scanner_reads_a_code_from_a_fake_camera_and_admits() {
    let app = spawn_app().await;
    let official = app.official().await;
    let shelter = shelter(&app, &official).await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter]}))
        .await;
    let (resident, token) = resident_at(&app, 30.05, 120.05, &["elderly"]).await;
    let item: Value = app
        .post(
            "/v1/relief-items",
            &official,
            &json!({"name": "Water", "unit": "bottle", "quota": 4, "per": "person"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let png = my_code(&app, &token, "png").await.bytes().await.unwrap();
    let camera = y4m_of(&png);
    let b = Browser::start(&[
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-video-capture={}", camera.display()),
    ])
    .await;

    b.goto(&app.url("/scan")).await;
    b.click("#token-door summary").await;
    b.fill("#staff-token", &staff).await;
    b.click("#signin button[type=submit]").await;
    b.wait_for(&format!("#shelter option[value='{shelter}']"))
        .await;
    b.select("#shelter", &shelter).await;
    b.click("#camera").await;
    b.until("!document.getElementById('verdict').hidden", "a verdict")
        .await;
    let profile: Value = app
        .get(&format!("/v1/residents/{resident}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        b.js(
            "return document.querySelector('#v-band .band').dataset.colour;",
            vec![]
        )
        .await,
        "green"
    );
    let who = b.text("#v-who").await;
    assert!(
        who.ends_with(profile["id_last4"].as_str().unwrap()),
        "{who}"
    );
    assert!(who.starts_with('王') && who.contains('*'), "masked: {who}");
    assert!(b.text("#v-needs").await.contains("Elderly"));
    std::fs::remove_file(&camera).ok();
    b.screenshot("scan-verdict").await;

    b.click("#admit").await;
    b.until(
        "document.getElementById('message').textContent.startsWith('Admitted')",
        "admitted",
    )
    .await;
    let occupants: Value = app
        .get(&format!("/v1/shelters/{shelter}/occupants"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        occupants["occupants"].as_array().unwrap().len(),
        1,
        "{occupants}"
    );
    // A hardware scanner types the code: hand out two bottles, then check the person out.
    b.click("#camera").await;
    let code: Value = json_ok(my_code(&app, &token, "json").await).await;
    let typed = code["token"].as_str().unwrap();
    b.fill("#token-input", typed).await;
    b.click("#typed button[type=submit]").await;
    b.until(
        "!document.getElementById('verdict').hidden",
        "the typed verdict",
    )
    .await;
    b.select("#item", item["id"].as_str().unwrap()).await;
    b.fill("#quantity", "2").await;
    b.click("#give").await;
    b.until(
        "document.getElementById('message').textContent.startsWith('Handed out')",
        "handed out",
    )
    .await;
    let given: Value = app
        .get(&format!("/v1/shelters/{shelter}/distributions"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        given["distributions"].as_array().unwrap().len(),
        1,
        "{given}"
    );
    assert_eq!(given["distributions"][0]["quantity"], 2, "{given}");
    b.fill("#token-input", typed).await;
    b.click("#typed button[type=submit]").await;
    b.until(
        "!document.getElementById('verdict').hidden",
        "the verdict again",
    )
    .await;
    b.click("#checkout").await;
    b.until(
        "document.getElementById('message').textContent.startsWith('Checked out')",
        "checked out",
    )
    .await;
    assert_eq!(occupancy(&app, &official, &shelter).await, 0);
    b.close().await;
}

#[tokio::test]
async fn the_resident_page_registers_a_family_reads_alerts_and_reports() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let b = Browser::start(&[]).await;
    b.goto(&app.url("/")).await;
    b.wait_for("#register:not([hidden])").await;
    b.fill("#r-name", "Chen Jing").await;
    b.fill("#r-id", &new_id_number()).await;
    b.fill("#r-phone", "13912345678").await;
    b.fill("#register input[name=lat]", "30.05").await;
    b.fill("#register input[name=lon]", "120.05").await;
    b.click("#add-dependent").await;
    b.fill("input[name=d0name]", "Chen Xiao").await;
    let child = new_id_number();
    b.fill("input[name=d0id]", &child).await;
    // The year must agree with the birth date inside the ID number.
    b.fill("input[name=d0birth]", &child[6..10]).await;
    b.click("fieldset.dependent input[value=infant]").await;
    b.click("#register button[type=submit]").await;
    b.until(
        "document.querySelectorAll('#family-codes .band').length === 1",
        "the child's code",
    )
    .await;
    // Issue 18: the page says how to get back in after losing the phone.
    assert!(b.text("#lost-phone").await.contains("ID card"));
    let saved = b
        .js(
            "return JSON.parse(localStorage.getItem('sc_resident'));",
            vec![],
        )
        .await;
    let head = saved["id"].as_str().unwrap().to_owned();
    let profile: Value = app
        .get(&format!("/v1/residents/{head}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["household"]["dependents"][0]["name"], "Chen Xiao");

    // An alert arrives; "I have read this" acknowledges it.
    let sent: Value = app
        .post(
            "/v1/alerts",
            &official,
            &json!({"zones": [zone], "headline": "River rising", "event": "Flood",
                    "description": "The Puyang river is rising fast.",
                    "instruction": "Move to high ground.", "response_type": "Prepare",
                    "urgency": "Expected", "severity": "Severe", "certainty": "Likely"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let alert = sent["id"].as_str().unwrap();
    b.click("#refresh").await;
    b.wait_for(&format!("#alerts li[data-id='{alert}'] button"))
        .await;
    assert!(b.text("#alerts").await.contains("River rising"));
    b.screenshot("resident-alert").await;
    b.click(&format!("#alerts li[data-id='{alert}'] button"))
        .await;
    b.until(
        &format!("document.querySelector(\"#alerts li[data-id='{alert}'] button\").disabled"),
        "acknowledged",
    )
    .await;
    let status: Value = app
        .get(&format!("/v1/alerts/{alert}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["acknowledged"], 1, "{status}");

    // "I am safe, with relatives", a hazard report with a photo, an appeal.
    b.click("#safe-relatives").await;
    b.until(
        "document.getElementById('message').textContent === 'Recorded: you are safe'",
        "safe recorded",
    )
    .await;
    let zones: Value = json_ok(app.get("/v1/zones", &official).await).await;
    assert_eq!(zones["features"][0]["properties"]["safe_with_relatives"], 1);
    let photo = artifacts().join(format!("hazard-{}.png", uuid::Uuid::new_v4().simple()));
    image::RgbImage::from_pixel(64, 48, image::Rgb([40, 90, 160]))
        .save(&photo)
        .unwrap();
    b.select("#rep-cat", "trapped_people").await;
    b.fill("#rep-text", "Two people on a roof by the bridge")
        .await;
    b.wait_for("#rep-photo")
        .await
        .send_keys(&photo.display().to_string())
        .await
        .unwrap();
    b.fill("#report input[name=lat]", "30.06").await;
    b.fill("#report input[name=lon]", "120.06").await;
    b.click("#report button[type=submit]").await;
    b.until(
        "document.getElementById('message').textContent.startsWith('Report sent')",
        "report sent",
    )
    .await;
    std::fs::remove_file(&photo).ok();
    let reports: Value = app
        .get("/v1/reports", &official)
        .await
        .json()
        .await
        .unwrap();
    let r = &reports["features"][0]["properties"];
    assert_eq!(
        (
            r["category"].clone(),
            r["urgent"].clone(),
            r["has_photo"].clone()
        ),
        (json!("trapped_people"), json!(true), json!(true)),
        "{reports}"
    );
    b.fill("#ap-text", "I live on the fourth floor").await;
    b.click("#appeal button[type=submit]").await;
    b.until(
        "document.getElementById('message').textContent.startsWith('Appeal sent')",
        "appeal sent",
    )
    .await;
    let appeals: Value = app
        .get("/v1/appeals", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        appeals[0]["text"], "I live on the fourth floor",
        "{appeals}"
    );
    b.screenshot("resident-after-actions").await;

    // The official's board shows the alert's reach and the urgent report first.
    b.goto(&app.url("/ops")).await;
    b.click("#token-door summary").await;
    b.fill("#ops-token", &official).await;
    b.click("#signin button[type=submit]").await;
    b.wait_for(&format!("#alerts li[data-alert='{alert}']"))
        .await;
    b.until(
        "document.querySelector('#reports li .urgent') !== null",
        "the urgent report",
    )
    .await;
    b.screenshot("ops-alerts-reports").await;
    b.close().await;
}

#[tokio::test]
async fn the_scanner_admits_offline_from_the_bundle_and_syncs_once() {
    let app = spawn_app().await;
    let official = app.official().await;
    let shelter = shelter(&app, &official).await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter]}))
        .await;
    let (_, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let code: Value = json_ok(my_code(&app, &resident, "json").await).await;
    let token = code["token"].as_str().unwrap().to_owned();

    let server = ServeProcess::start(&app).await;
    let bind = server.address.trim_start_matches("http://").to_owned();
    let b = Browser::start(&[]).await;
    b.goto(&server.url("/scan")).await;
    b.click("#token-door summary").await;
    b.fill("#staff-token", &staff).await;
    b.click("#signin button[type=submit]").await;
    b.wait_for(&format!("#shelter option[value='{shelter}']"))
        .await;
    b.select("#shelter", &shelter).await;
    b.until(
        "document.getElementById('bundle-age').textContent !== '—'",
        "the bundle saved",
    )
    .await;

    // The network goes, and the tablet is even restarted: the page opens from what the
    // device kept, verifies from the bundle and keeps the admission.
    b.until(
        "navigator.serviceWorker.controller !== null",
        "the pages kept on the device",
    )
    .await;
    server.kill();
    b.goto(&format!("http://{bind}/scan")).await;
    b.wait_for("#desk:not([hidden])").await;
    b.until(
        "document.getElementById('bundle-age').textContent !== '—'",
        "the saved bundle loaded offline",
    )
    .await;
    // With the device's clock past the bundle's life, it says so instead of guessing.
    b.js(
        "window.realNow = Date.now; Date.now = () => window.realNow() + 7 * 3600 * 1000; return true;",
        vec![],
    )
    .await;
    b.fill("#token-input", &token).await;
    b.click("#typed button[type=submit]").await;
    b.until(
        "!document.getElementById('verdict').hidden",
        "a verdict with an old bundle",
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelector('#v-band .band').dataset.colour;",
            vec![]
        )
        .await,
        "cannot_verify"
    );
    assert!(!b.wait_for("#v-actions").await.is_displayed().await.unwrap());
    b.screenshot("scan-cannot-verify").await;
    b.js("Date.now = window.realNow; return true;", vec![])
        .await;
    b.click("#next").await;

    b.fill("#token-input", &token).await;
    b.click("#typed button[type=submit]").await;
    b.until(
        "!document.getElementById('verdict').hidden",
        "an offline verdict",
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelector('#v-band .band').dataset.colour;",
            vec![]
        )
        .await,
        "green"
    );
    assert!(b.text("#v-source").await.contains("OFFLINE"));
    assert!(b.text("#net").await.contains("OFFLINE"));
    b.screenshot("scan-offline-verdict").await;
    b.click("#admit").await;
    b.until(
        "document.getElementById('pending').textContent === '1'",
        "one queued",
    )
    .await;
    b.screenshot("scan-offline-queued").await;
    assert_eq!(
        occupancy(&app, &official, &shelter).await,
        0,
        "nothing reached the server yet"
    );

    // The network returns on the same address: the queue goes up by itself, applied once.
    let _back = ServeProcess::start_on(&app, &bind).await;
    b.until(
        "document.getElementById('pending').textContent === '0'",
        "the queue sent",
    )
    .await;
    assert!(b.text("#net").await.contains("Online"));
    b.screenshot("scan-synced").await;
    assert_eq!(occupancy(&app, &official, &shelter).await, 1);
    // Sending the same events again (a retry after a lost answer) admits no one twice.
    b.js(
        "const k = `sc_queue_${arguments[0]}`; localStorage.setItem(k, arguments[1]); return true;",
        vec![
            json!(shelter),
            json!(
                json!([{"type": "checkin", "idempotency_key": "replayed",
            "token": token, "device_time": chrono::Utc::now(), "device_id": "t"}])
                .to_string()
            ),
        ],
    )
    .await;
    b.click("#sync").await;
    // The counter on screen was not told of the injected event; the answer is the conflict.
    b.until(
        "document.getElementById('conflicts').textContent.includes('already_sheltered')",
        "the replay answered",
    )
    .await;
    assert_eq!(
        occupancy(&app, &official, &shelter).await,
        1,
        "the stay exists once"
    );
    let left = b
        .js(
            "return JSON.parse(localStorage.getItem(`sc_queue_${arguments[0]}`)).length;",
            vec![json!(shelter)],
        )
        .await;
    assert_eq!(left, 0, "an answered event leaves the queue");
    b.close().await;
}

/// Each page's first load in a fresh browser: what it transfers (scripts, styles, fonts,
/// everything) stays within 300 KB. The time it takes is a figure for `benches/pages.rs`.
#[tokio::test]
async fn each_page_first_load_transfers_at_most_300_kb() {
    let app = spawn_app().await;
    for page in ["/", "/scan", "/ops"] {
        let b = Browser::start(&[]).await;
        b.goto(&app.url(page)).await;
        b.until("document.readyState === 'complete'", "the page loaded")
            .await;
        let bytes = b
            .js(
                "return performance.getEntriesByType('navigation')[0].transferSize + \
                 performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0);",
                vec![],
            )
            .await
            .as_f64()
            .unwrap();
        assert!(
            bytes > 1000.0,
            "{page}: transfer sizes are reported ({bytes})"
        );
        assert!(bytes <= 300.0 * 1024.0, "{page} transfers {bytes} bytes");
        b.screenshot(&format!("first-load{}", page.replace('/', "-")))
            .await;
        b.close().await;
    }
}

/// A resident lost their phone (or someone squatted their ID): at the district office the
/// official finds the record by the ID card on /ops, gives it back, and the person scans the
/// sign-in code on the screen with their new phone, which then shows their code.
#[tokio::test]
async fn an_official_gives_a_record_back_and_the_new_phone_signs_in_by_scanning() {
    let app = spawn_app().await;
    let official = app.official().await;
    let id_number = new_id_number();
    let mut body = resident_body();
    body["id_number"] = json!(id_number);
    let registered: Value = json_ok(app.register(&body).await).await;
    let old_token = registered["access_token"].as_str().unwrap().to_owned();

    let b = Browser::start(&[]).await;
    b.goto(&app.url("/ops")).await;
    b.click("#token-door summary").await;
    b.fill("#ops-token", &official).await;
    b.click("#signin button[type=submit]").await;
    b.wait_for("#board:not([hidden])").await;
    b.fill("#d-number", &id_number).await;
    b.click("#doc-find button[type=submit]").await;
    let record = b.wait_for("#doc-records li button.primary").await;
    // Without ticking "I have checked the ID card" nothing happens but an explanation.
    record.click().await.unwrap();
    b.until(
        "document.getElementById('message').classList.contains('error')",
        "the refusal",
    )
    .await;
    assert_eq!(
        app.get("/v1/residents/me", &old_token).await.status(),
        200,
        "nothing changed"
    );
    b.click("#doc-records li input[type=checkbox]").await;
    b.click("#doc-records li button.primary").await;
    b.until(
        "(() => { const i = document.querySelector('#take-back img'); if (!i?.complete) return false; \
         const r = i.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()",
        "the sign-in code, whole on screen",
    )
    .await;
    assert_eq!(
        b.js("return document.getElementById('d-number').value", vec![])
            .await,
        ""
    );
    let shot = b.screenshot("ops-take-back").await;
    let link = safecode::qr::decode(&shot).expect("the sign-in code on screen decodes");
    assert!(link.contains("/#access="), "{link}");
    assert_eq!(app.get("/v1/residents/me", &old_token).await.status(), 401);
    b.close().await;

    // The person's new phone: a fresh browser opening the scanned link.
    let phone = Browser::start(&[]).await;
    phone.goto(&link).await;
    phone
        .until(
            "document.querySelector('#band .band')?.dataset.colour === 'green'",
            "the resident's code",
        )
        .await;
    let url = phone.js("return location.href", vec![]).await;
    assert!(
        !url.as_str().unwrap().contains("access"),
        "the token is wiped from the address bar: {url}"
    );
    // Told once the page has loaded everything: earlier sign-ins of the record no longer work.
    phone
        .until(
            "document.getElementById('message').textContent !== ''",
            "the note that the record is back",
        )
        .await;
    let saved = phone
        .js(
            "return JSON.parse(localStorage.getItem('sc_resident'))",
            vec![],
        )
        .await;
    let me: Value = app
        .get("/v1/residents/me", saved["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], registered["resident_id"]);
    phone.close().await;
}

/// The scanner's own SC1 verifier (web/sc1.js, what a tablet runs offline) gives, in the
/// browser, the same verdict as the Rust one on every published test vector.
#[tokio::test]
async fn the_pages_sc1_verifier_agrees_with_the_test_vectors() {
    let app = spawn_app().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tokens");
    let mut vectors: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    vectors.sort_by_key(|v| v["description"].as_str().unwrap().to_owned());
    assert!(vectors.len() >= 8, "the vectors are there");
    let b = Browser::start(&[]).await;
    b.goto(&app.url("/scan")).await;
    let verdicts = b
        .js(
            r#"return (async (vectors) => {
                const sc1 = await import('/assets/sc1.js');
                const b64url = (bytes) => btoa(String.fromCharCode(...bytes))
                    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
                const out = [];
                for (const v of vectors) {
                    const jwks = { keys: v.keys.map((k) => ({ kty: 'OKP', crv: 'Ed25519', status: k.status,
                        x: b64url(k.x_hex.match(/../g).map((h) => parseInt(h, 16))) })) };
                    // Lists older than every code (the default one, and the code's district's
                    // when it names one): the colour is the code's own.
                    const old = { issued_at: 0, expires_at: 4e9, epoch: 0 };
                    const district = v.claims && v.claims.district;
                    const bundle = { keys: await sc1.loadKeys(jwks), list: old,
                        districts: new Map(district ? [[district, old]] : []) };
                    out.push(await sc1.verifyOffline(v.token, bundle, v.now));
                }
                return out;
            })(arguments[0]);"#,
            vec![Value::Array(vectors.clone())],
        )
        .await;
    let verdicts = verdicts.as_array().expect("one verdict per vector");
    assert_eq!(verdicts.len(), vectors.len());
    for (v, got) in vectors.iter().zip(verdicts) {
        let name = v["description"].as_str().unwrap();
        if v["expected"] == "valid" {
            assert_eq!(got["valid"], true, "{name}: {got}");
            assert_eq!(got["colour"], v["claims"]["colour"], "{name}");
            assert_eq!(got["subject"], v["claims"]["subject"], "{name}");
            assert_eq!(got["display"], v["claims"]["display"], "{name}");
            assert_eq!(got["expires_at"], v["claims"]["expires_at"], "{name}");
        } else {
            assert_eq!(got["valid"], false, "{name}: {got}");
            assert_eq!(got["error"], v["expected"], "{name}: {got}");
        }
    }
    b.close().await;
}
