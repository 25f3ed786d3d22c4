//! Offline verification end to end: the signed status list and the verifier bundle served
//! by a real server, read back with the library a verifier uses.

use crate::helpers::*;
use safecode::domain::Colour;
use safecode::token::offline::{Bundle, ColourSource, Outcome};
use safecode::token::status_list::{self, Slot, StatusList};
use safecode::token::{Kid, known_from_jwks};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn jwks(app: &TestApp) -> Value {
    serde_json::from_str(&app.public_text("/v1/keys").await).unwrap()
}

/// GET /v1/status-list, decoded and checked with the published keys: (ETag, list).
async fn fetch_list(app: &TestApp) -> (String, StatusList) {
    signed_list(app, "/v1/status-list").await
}

/// A status list at `path` (the default one, or `?district=N`), checked with the published
/// keys: (ETag, list).
pub(crate) async fn signed_list(app: &TestApp, path: &str) -> (String, StatusList) {
    let res = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/cose")
    );
    let body = res.bytes().await.unwrap();
    let keys = known_from_jwks(&jwks(app).await).unwrap();
    let list = status_list::verify(
        &body,
        |kid| keys.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        chrono::Utc::now().timestamp(),
    )
    .expect("a list signed by the published keys");
    (etag, list)
}

/// A resident's code and the status index inside it.
async fn code_and_index(app: &TestApp, resident: &str) -> (String, u32) {
    let (token, claims) = code_and_claims(app, resident).await;
    (token, claims.status_index.0)
}

/// A resident's code and its claims, checked with the published keys.
pub(crate) async fn code_and_claims(
    app: &TestApp,
    resident: &str,
) -> (String, safecode::token::Claims) {
    let token = code_of(app, resident).await;
    let keys = known_from_jwks(&jwks(app).await).unwrap();
    let claims = safecode::token::verify(
        &token,
        |kid| keys.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        chrono::Utc::now().timestamp(),
    )
    .unwrap()
    .claims;
    (token, claims)
}

/// Waits (debounce 1 s in tests) for a list newer than `etag`.
async fn next_list(app: &TestApp, etag: &str) -> StatusList {
    let start = Instant::now();
    loop {
        let (e, list) = fetch_list(app).await;
        if e != etag {
            return list;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the list was not rebuilt"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_status_list_round_trips_and_turns_red_after_an_order() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "riverside").await;
    let (_, inside) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (_, outside) = resident_at(&app, 31.5, 121.5, &[]).await;
    let (_, in_idx) = code_and_index(&app, &inside).await;
    let (_, out_idx) = code_and_index(&app, &outside).await;

    let (etag, list) = fetch_list(&app).await;
    assert!(list.bits.count() >= status_list::MIN_SLOTS);
    assert!(list.expires_at - list.issued_at == 6 * 3600);

    // Revalidation: same list, 304 with no body.
    let res = app
        .client
        .get(app.url("/v1/status-list"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());

    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "levee breach"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Nothing else happening: the list settles on both residents' colours.
    let mut list = next_list(&app, &etag).await;
    let start = Instant::now();
    while list.bits.get(in_idx) != Some(Slot::Colour(Colour::Red)) {
        assert!(start.elapsed() < Duration::from_secs(20), "never red");
        let (e, _) = fetch_list(&app).await;
        list = next_list(&app, &e).await;
    }
    assert!(list.epoch > 1);
    assert_eq!(list.bits.get(out_idx), Some(Slot::Colour(Colour::Green)));
}

#[tokio::test]
async fn a_green_code_from_before_the_order_reads_red_offline() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let zone = app.square_zone(&official, "riverside").await;
    let (_, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (green_code, _) = code_and_index(&app, &resident).await;

    // Only staff and officials download bundles.
    let res = app
        .client
        .get(app.url("/v1/verifier/bundle"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;
    let res = app.get("/v1/verifier/bundle", &resident).await;
    assert_problem(res, 403, "forbidden").await;

    let zipped = app
        .client
        .get(app.url("/v1/verifier/bundle"))
        .bearer_auth(&staff)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");

    let (etag, _) = fetch_list(&app).await;
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "levee breach"}),
    )
    .await;
    next_list(&app, &etag).await;
    // The screenshot was taken before the order; a bundle fetched after it knows better.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start = Instant::now();
    loop {
        let text = app
            .get("/v1/verifier/bundle", &staff)
            .await
            .text()
            .await
            .unwrap();
        let bundle = Bundle::from_json(&text).expect("a bundle that verifies");
        let now = chrono::Utc::now().timestamp();
        match safecode::token::offline::verify(&green_code, &bundle, now) {
            Outcome::Valid {
                colour: Colour::Red,
                source: ColourSource::StatusList { .. },
                ..
            } => break,
            other => assert!(start.elapsed() < Duration::from_secs(20), "still {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The operator's commands: fetch a bundle, then check a code or a photo of it with no
/// server; a tampered bundle or a forged code exits 1.
#[tokio::test]
async fn bundle_fetch_and_verify_from_the_command_line() {
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (resident_id, resident) = resident_at(&app, 31.5, 121.5, &[]).await;
    let (code, _) = code_and_index(&app, &resident).await;
    let png = app
        .get("/v1/residents/me/code?format=png", &resident)
        .await
        .bytes()
        .await
        .unwrap();
    let photo = app.dir.path().join("code.png");
    std::fs::write(&photo, &png).unwrap();
    let file = app.dir.path().join("bundle.json");
    // Off the test's runtime: it drives the database connections the server uses.
    let run = |args: &[&std::ffi::OsStr]| {
        let args: Vec<std::ffi::OsString> = args.iter().map(|a| a.to_os_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(TestApp::binary())
                .args(args)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        })
    };
    let os = |s: &str| std::ffi::OsString::from(s);

    let out = run(&[
        &os("bundle"),
        &os("fetch"),
        &os("--allow-plain-http"),
        &os("loopback"),
        &os("--server"),
        &os(&app.address),
        &os("--token"),
        &os(&staff),
        &os("--out"),
        file.as_os_str(),
    ])
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for input in [os(&code), photo.clone().into_os_string()] {
        let out = run(&[&os("verify"), &input, &os("--bundle"), file.as_os_str()])
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.starts_with("valid"), "{stdout}");
        assert!(stdout.contains("colour now: green"), "{stdout}");
        assert!(
            stdout.contains("data as of:"),
            "every verdict says how old its data is"
        );
        assert!(!stdout.contains(&resident_id), "no resident id printed");
    }

    let mut forged = code.clone();
    forged.pop();
    forged.push(if code.ends_with('0') { '1' } else { '0' });
    let out = run(&[
        &os("verify"),
        &os(&forged),
        &os("--bundle"),
        file.as_os_str(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("invalid"));

    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["max_age_seconds"] = json!(30 * 86_400);
    let tampered = app.dir.path().join("tampered.json");
    std::fs::write(&tampered, doc.to_string()).unwrap();
    let out = run(&[
        &os("verify"),
        &os(&code),
        &os("--bundle"),
        tampered.as_os_str(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("cannot verify"));

    let out = run(&[
        &os("bundle"),
        &os("fetch"),
        &os("--allow-plain-http"),
        &os("loopback"),
        &os("--server"),
        &os(&app.address),
        &os("--token"),
        &os("sc_not_a_token"),
        &os("--out"),
        file.as_os_str(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = run(&[
        &os("verify"),
        &os(&code),
        &os("--bundle"),
        &os("/nonexistent"),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

async fn shelter_at(app: &TestApp, official: &str, name: &str, cap: i64) -> String {
    let res = app
        .post(
            "/v1/shelters",
            official,
            &json!({"name": name, "location": {"lat": 30.2, "lon": 120.3}, "capacity": cap}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn event(kind: &str, key: &str, token: &str, minute: u32, extra: Value) -> Value {
    let mut e = json!({"type": kind, "idempotency_key": key, "token": token,
        "device_time": format!("2026-11-28T08:{minute:02}:00Z"), "device_id": "tablet-3"});
    if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    e
}

#[tokio::test]
async fn an_offline_batch_uploaded_twice_is_applied_once_and_nothing_is_dropped() {
    let app = spawn_app().await;
    let official = app.official().await;
    let s = shelter_at(&app, &official, "school", 10).await;
    let (_, staff) = app.create_user("staff", json!({"shelter_ids": [s]})).await;
    let water: Value = app
        .post(
            "/v1/relief-items",
            &official,
            &json!({"name": "water", "unit": "bottle", "quota": 3, "per": "person"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let water = water["id"].as_str().unwrap();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let (_, r) = app.registered().await;
        codes.push(code_and_index(&app, &r).await.0);
    }
    // Listed out of order: the check-out of codes[1] comes first but happened last.
    let events = json!({"events": [
        event("checkout", "t3-0009", &codes[1], 30, json!({"reason": "returned_home"})),
        event("checkin", "t3-0001", &codes[0], 1, json!({})),
        event("checkin", "t3-0002", &codes[1], 2, json!({})),
        event("checkin", "t3-0003", &codes[2], 3, json!({})),
        event("distribution", "t3-0004", &codes[0], 4, json!({"item_id": water, "quantity": 2})),
        event("distribution", "t3-0005", &codes[0], 5, json!({"item_id": water, "quantity": 2})),
        event("checkin", "t3-0006", "SC1:not-a-code", 6, json!({})),
        event("teleport", "t3-0007", &codes[2], 7, json!({})),
    ]});
    let path = format!("/v1/shelters/{s}/sync");
    let first: Value = json_ok(app.post(&path, &staff, &events).await).await;
    assert_eq!(
        (&first["applied"], &first["duplicates"], &first["conflicts"]),
        (&json!(5), &json!(0), &json!(3)),
        "{first}"
    );
    let statuses: Vec<(&str, &str)> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("applied", ""),
            ("applied", ""),
            ("applied", ""),
            ("applied", ""),
            ("applied", ""),
            ("conflict", "quota_exceeded"),
            // The code a scan of it online gets: one name for each refusal.
            ("conflict", "malformed"),
            ("conflict", "invalid_event"),
        ]
    );
    let view: Value = app
        .get(&format!("/v1/shelters/{s}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["occupancy"], 2);

    let again: Value = json_ok(app.post(&path, &staff, &events).await).await;
    assert_eq!(
        (&again["applied"], &again["duplicates"], &again["conflicts"]),
        (&json!(0), &json!(5), &json!(3)),
        "{again}"
    );
    let view: Value = app
        .get(&format!("/v1/shelters/{s}"), &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["occupancy"], 2);

    let kept: Value = app
        .get("/v1/sync/conflicts", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept.as_array().unwrap().len(), 3, "{kept}");
    assert_problem(
        app.get("/v1/sync/conflicts", &staff).await,
        403,
        "forbidden",
    )
    .await;
    let res = app.post(&path, &staff, &json!({"events": "no"})).await;
    assert_eq!(res.status(), 422);
    assert!(app.audit_verify().await["ok"].as_bool().unwrap());
}

#[tokio::test]
async fn two_shelters_admitting_one_person_offline_give_one_stay_and_one_conflict() {
    let app = spawn_app().await;
    let official = app.official().await;
    let a = shelter_at(&app, &official, "A", 10).await;
    let b = shelter_at(&app, &official, "B", 10).await;
    let (_, staff_a) = app.create_user("staff", json!({"shelter_ids": [a]})).await;
    let (_, staff_b) = app.create_user("staff", json!({"shelter_ids": [b]})).await;
    let (_, r) = app.registered().await;
    let (code, _) = code_and_index(&app, &r).await;
    let batch = |key: &str| json!({"events": [event("checkin", key, &code, 1, json!({}))]});
    let (pa, pb) = (
        format!("/v1/shelters/{a}/sync"),
        format!("/v1/shelters/{b}/sync"),
    );
    let (ba, bb) = (batch("a-1"), batch("b-1"));
    let (ra, rb) = tokio::join!(app.post(&pa, &staff_a, &ba), app.post(&pb, &staff_b, &bb));
    let (ra, rb): (Value, Value) = (ra.json().await.unwrap(), rb.json().await.unwrap());
    let mut outcomes = [
        ra["results"][0]["status"].as_str().unwrap().to_owned(),
        rb["results"][0]["status"].as_str().unwrap().to_owned(),
    ];
    outcomes.sort();
    assert_eq!(outcomes, ["applied", "conflict"]);
    let kept: Value = app
        .get("/v1/sync/conflicts", &official)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept.as_array().unwrap().len(), 1);
    assert_eq!(kept[0]["reason"], "already_sheltered");
    let mut total = 0;
    for s in [&a, &b] {
        let v: Value = app
            .get(&format!("/v1/shelters/{s}"), &official)
            .await
            .json()
            .await
            .unwrap();
        total += v["occupancy"].as_i64().unwrap();
    }
    assert_eq!(total, 1);
}

#[tokio::test]
async fn bundle_fetch_reads_at_most_its_cap_from_a_hostile_server() {
    // A "server" that answers with an endless body.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            let chunk = vec![b' '; 1 << 20];
            let head = format!("{:x}\r\n", chunk.len());
            // 200 MiB if nobody stops reading.
            for _ in 0..200 {
                if s.write_all(head.as_bytes()).is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return;
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("bundle.json");
    let server = format!("http://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(TestApp::binary())
            .args([
                "bundle",
                "fetch",
                "--allow-plain-http",
                "loopback",
                "--server",
                &server,
                "--token",
                "sc_x",
                "--out",
            ])
            .arg(&out_file)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 32 MiB"), "{err}");
    assert!(!dir.path().join("bundle.json").exists());
}

/// Runs web/sc1.js's `loadBundle` in Node on a bundle file: what the /scan page would do.
async fn scan_page_loads(bundle: &Value) -> String {
    let (out, err) = with_sc1_in_node(
        bundle,
        "const before = process.memoryUsage().rss;\n\
         try { await loadBundle(JSON.parse(readFileSync(process.argv[2], 'utf8'))); console.log('ok'); }\n\
         catch (e) { console.log(e.message); }\n\
         console.log(Math.round((process.memoryUsage().rss - before) / 1048576));\n",
    )
    .await;
    out + &err
}

/// Runs `body` as a Node module that has imported `readFileSync` and web/sc1.js's
/// `loadBundle`, with the bundle's file as its argument; (stdout, stderr).
async fn with_sc1_in_node(bundle: &Value, body: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_string()).unwrap();
    let script = dir.path().join("load.mjs");
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/sc1.js");
    std::fs::write(
        &script,
        format!(
            "import {{ readFileSync }} from 'node:fs';\n\
             import {{ loadBundle }} from '{}';\n{body}",
            url_of(&module)
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .arg(&file)
            .output()
            .expect("node (Debian's nodejs, on every machine of this kind)")
    })
    .await
    .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn url_of(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

#[tokio::test]
async fn the_scan_page_refuses_a_signed_list_that_would_fill_the_phone() {
    use coset::CborSerializable;
    use coset::cbor::value::Value as Cbor;
    let app = spawn_app().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let bundle: Value = app
        .get("/v1/verifier/bundle", &staff)
        .await
        .json()
        .await
        .unwrap();
    let out = scan_page_loads(&bundle).await;
    assert!(out.starts_with("ok"), "{out}");

    // The same list's fields, signed with the service's real key (as by a compromised signer),
    // but declaring more slots than a province has, or a 64 MiB zlib bomb behind a small count.
    let key = app.ctx.keys.signer().unwrap().signing;
    let list = &bundle["status_list"];
    let signed = |count: u64, bits: Vec<u8>| {
        use base64::Engine;
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&bits).unwrap();
        let payload = Cbor::Map(vec![
            (
                Cbor::Text("epoch".into()),
                Cbor::from(list["epoch"].as_u64().unwrap()),
            ),
            (
                Cbor::Text("issued_at".into()),
                Cbor::from(list["issued_at"].as_i64().unwrap()),
            ),
            (
                Cbor::Text("expires_at".into()),
                Cbor::from(list["expires_at"].as_i64().unwrap()),
            ),
            (
                Cbor::Text("rules_version".into()),
                Cbor::from(bundle["rules_version"].as_i64().unwrap()),
            ),
            (Cbor::Text("count".into()), Cbor::from(count)),
            (Cbor::Text("bits".into()), Cbor::Bytes(z.finish().unwrap())),
        ]);
        let cose = safecode::token::sign1(payload.to_vec().unwrap(), &key);
        let mut b = bundle.clone();
        b["status_list"]["cose"] = json!(base64::engine::general_purpose::STANDARD.encode(cose));
        b
    };
    let too_many = signed((1 << 26) + 1, vec![0; 16]);
    assert!(scan_page_loads(&too_many).await.starts_with("bad_bundle"));
    let bomb = signed(131_072, vec![0; 64 << 20]);
    let out = scan_page_loads(&bomb).await;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("bad_bundle"), "{out}");
    let grew: i64 = lines.next().unwrap().parse().unwrap();
    assert!(grew < 32, "{grew} MiB for a 32 KiB list");
}

#[tokio::test]
async fn an_order_reaches_the_bundle_within_five_seconds_whatever_the_debounce() {
    let (mut settings, dir) = test_settings().await;
    settings.status_list_debounce_secs = 30;
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let zone = app.square_zone(&official, "riverside").await;
    let (_, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let code: Value = app
        .get("/v1/residents/me/code", &resident)
        .await
        .json()
        .await
        .unwrap();
    let code = code["token"].as_str().unwrap().to_owned();
    let offline_colour = |bundle: &str| {
        let b = safecode::token::offline::Bundle::from_json(bundle).unwrap();
        match safecode::token::offline::verify(&code, &b, chrono::Utc::now().timestamp() + 1) {
            safecode::token::offline::Outcome::Valid { colour, source, .. } => (colour, source),
            other => panic!("{other:?}"),
        }
    };
    // A list newer than the code, then quiet: a tablet's bundle says green.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let first = app
        .get("/v1/verifier/bundle", &staff)
        .await
        .text()
        .await
        .unwrap();
    let _ = offline_colour(&first);

    let ordered = std::time::Instant::now();
    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "dyke breach"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    loop {
        let bundle = app
            .get("/v1/verifier/bundle", &staff)
            .await
            .text()
            .await
            .unwrap();
        let (colour, source) = offline_colour(&bundle);
        if colour == safecode::domain::Colour::Red {
            assert!(matches!(
                source,
                safecode::token::offline::ColourSource::StatusList { .. }
            ));
            break;
        }
        assert!(
            ordered.elapsed() < std::time::Duration::from_secs(5),
            "the order is not in the bundle 5 s later (debounce 30 s)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A calm change (a new zone, no order) waits for the debounce.
    let before = app.get("/v1/status-list", &staff).await.headers()["etag"].clone();
    app.square_zone(&official, "quiet").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = app.get("/v1/status-list", &staff).await.headers()["etag"].clone();
    assert_eq!(before, after, "no rebuild for a change that moves no one");
}

/// Runs web/sc1.js's `loadBundle(bundle, trusted)` in Node: the answer's first line is `ok`
/// or the error, the second the trust to keep.
async fn scan_page_loads_pinned(bundle: &Value, trusted: &Value) -> String {
    let body = format!(
        "try {{ const b = await loadBundle(JSON.parse(readFileSync(process.argv[2], 'utf8')), {trusted});\n\
                console.log('ok'); console.log(JSON.stringify(b.trust)); }}\n\
         catch (e) {{ console.log(e.message); }}\n"
    );
    with_sc1_in_node(bundle, &body).await.0
}

#[tokio::test]
async fn verifiers_believe_the_keys_they_pinned_and_those_those_keys_vouch_for() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, staff) = app.create_user("staff", json!({})).await;
    let (_, resident) = resident_at(&app, 30.5, 120.5, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    let trust = dir.path().join("bundle.trust.json");
    let cli = |args: Vec<std::ffi::OsString>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(TestApp::binary())
                .args(args)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        })
    };
    let fetch = |out: &std::path::Path| -> Vec<std::ffi::OsString> {
        vec![
            "bundle".into(),
            "fetch".into(),
            "--allow-plain-http".into(),
            "loopback".into(),
            "--server".into(),
            app.address.clone().into(),
            "--token".into(),
            staff.clone().into(),
            "--out".into(),
            out.as_os_str().to_owned(),
        ]
    };
    // First contact pins the server's key.
    let out = cli(fetch(&file)).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("pinned its 1 key"));
    let pinned: Value = serde_json::from_str(&std::fs::read_to_string(&trust).unwrap()).unwrap();
    assert_eq!(pinned["keys"].as_array().unwrap().len(), 1);
    let first_bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();

    // A rotation: the new key signs the next list; the old one vouches for it.
    let res = app
        .post("/v1/keys/rotate", &app.admin_token, &json!({}))
        .await;
    assert!(res.status().is_success());
    let zone = app.square_zone(&official, "z").await;
    app.order(
        &official,
        &zone,
        &json!({"level": "advisory", "reason": "rain"}),
    )
    .await;
    let new_kid = {
        let keys: Value = app
            .client
            .get(app.url("/v1/keys"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["status"] == "active")
            .unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let rotated: Value = loop {
        let b: Value = app
            .get("/v1/verifier/bundle", &staff)
            .await
            .json()
            .await
            .unwrap();
        let cose = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            b["status_list"]["cose"].as_str().unwrap(),
        )
        .unwrap();
        if safecode::token::anchor::kid(&cose).map(|k| k.to_hex()) == Some(new_kid.clone()) {
            break b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no list signed by the new key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert!(!rotated["endorsements"].as_array().unwrap().is_empty());
    let out = cli(fetch(&file)).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grown: Value = serde_json::from_str(&std::fs::read_to_string(&trust).unwrap()).unwrap();
    assert_eq!(
        grown["keys"].as_array().unwrap().len(),
        2,
        "the vouched-for key joins"
    );

    // A bundle swapped wholesale: another server's keys and list, consistent in itself.
    let other = spawn_app().await;
    let (_, other_staff) = other.create_user("staff", json!({})).await;
    let swapped: Value = other
        .get("/v1/verifier/bundle", &other_staff)
        .await
        .json()
        .await
        .unwrap();
    let swapped_file = dir.path().join("swapped.json");
    std::fs::write(&swapped_file, swapped.to_string()).unwrap();
    let code: Value = app
        .get("/v1/residents/me/code", &resident)
        .await
        .json()
        .await
        .unwrap();
    let out = cli(vec![
        "verify".into(),
        code["token"].as_str().unwrap().into(),
        "--bundle".into(),
        swapped_file.as_os_str().to_owned(),
        "--trust".into(),
        trust.as_os_str().to_owned(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("does not trust"), "{said}");
    // The good bundle still verifies the code against the pinned keys.
    let out = cli(vec![
        "verify".into(),
        code["token"].as_str().unwrap().into(),
        "--bundle".into(),
        file.as_os_str().to_owned(),
    ])
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The /scan page: the same rules.
    let first = scan_page_loads_pinned(&first_bundle, &json!([])).await;
    let mut lines = first.lines();
    assert_eq!(lines.next(), Some("ok"), "{first}");
    let page_trust: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let later = scan_page_loads_pinned(&rotated, &page_trust).await;
    assert!(later.starts_with("ok"), "{later}");
    let refused = scan_page_loads_pinned(&swapped, &page_trust).await;
    assert!(refused.starts_with("untrusted_key"), "{refused}");
}
