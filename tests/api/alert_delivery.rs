//! Alerts beyond the inbox: drawn areas as targets, OASIS CAP 1.2 XML checked against the
//! official schema with xmllint, the Atom feed, and the signed webhook with retries received
//! by a real local HTTP server.

use crate::helpers::*;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The common alert, with a description that XML must escape.
fn alert(zones: Value) -> Value {
    let mut a = alert_form(zones);
    a["description"] = json!("Water rising 30 cm an hour. Roads <north> & east closed.");
    a
}

fn polygon(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [rect(lon0, lat0, lon1, lat1)]})
}

#[tokio::test]
async fn a_drawn_area_reaches_who_lives_inside_it_once() {
    let app = spawn_app().await;
    let official = app.official().await;
    // The zone is 120.0–120.1 × 30.0–30.1; the area overlaps its east half and beyond.
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, west) = resident_at(&app, 30.05, 120.02, &[]).await;
    let (_, both) = resident_at(&app, 30.05, 120.08, &[]).await;
    let (area_only, east) = resident_at(&app, 30.05, 120.15, &["wheelchair"]).await;
    let (_, outside) = resident_at(&app, 30.05, 120.3, &[]).await;

    let mut body = alert(json!([zone]));
    body["area"] = polygon(120.05, 30.0, 120.2, 30.1);
    body["area_desc"] = json!("Yiqiao riverside");
    let res = app.post("/v1/alerts", &official, &body).await;
    assert_eq!(res.status(), 201);
    let sent: Value = res.json().await.unwrap();
    assert_eq!(sent["recipients"], 3, "west, both (once) and east");
    let id = sent["id"].as_str().unwrap();
    for (token, expected) in [(&west, 1), (&both, 1), (&east, 1), (&outside, 0)] {
        let inbox: Value = app
            .get("/v1/residents/me/alerts", token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(inbox.as_array().unwrap().len(), expected);
    }
    let status: Value = app
        .get(&format!("/v1/alerts/{id}"), &official)
        .await
        .json()
        .await
        .unwrap();
    let zones = status["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 2, "{status}");
    assert_eq!(
        (zones[0]["name"].clone(), zones[0]["recipients"].clone()),
        (json!("Yiqiao"), json!(2))
    );
    assert!(zones[1]["zone_id"].is_null());
    assert_eq!(zones[1]["recipients"], 1);
    let pending: Value = app
        .get(
            &format!("/v1/alerts/{id}/recipients?acknowledged=false"),
            &official,
        )
        .await
        .json()
        .await
        .unwrap();
    let east_row = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resident_id"] == json!(area_only))
        .expect("the area-only resident is listed");
    assert!(east_row["zone"].is_null());

    // An area alone will do; a point will not; nor an area outside one's jurisdiction.
    let mut only_area = alert(json!([]));
    only_area["area"] = polygon(120.12, 30.0, 120.4, 30.1);
    let sent: Value = app
        .post("/v1/alerts", &official, &only_area)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent["recipients"], 2, "east and outside");
    let mut point = alert(json!([]));
    point["area"] = json!({"type": "Point", "coordinates": [120.0, 30.0]});
    assert_problem(
        app.post("/v1/alerts", &official, &point).await,
        422,
        "unsupported_geometry",
    )
    .await;
    assert_problem(
        app.post("/v1/alerts", &official, &alert(json!([]))).await,
        422,
        "invalid_zones",
    )
    .await;
    let (_, local) = app
        .create_user(
            "official",
            json!({"jurisdiction": polygon(120.0, 30.0, 120.1, 30.1)}),
        )
        .await;
    assert_problem(
        app.post("/v1/alerts", &local, &only_area).await,
        403,
        "outside_jurisdiction",
    )
    .await;
}

/// Runs xmllint on a document; (exit success, what it printed).
fn xmllint(args: &[&str], doc: &[u8]) -> (bool, String) {
    crate::browser::install_test_tools();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.xml");
    std::fs::write(&path, doc).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(args)
        .arg(&path)
        .output()
        .expect("xmllint (Debian libxml2-utils; .ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn schema() -> String {
    format!("{}/fixtures/cap/CAP-v1.2.xsd", env!("CARGO_MANIFEST_DIR"))
}

/// The text of every element named `name`, in document order, entities resolved.
fn texts(xml: &str, name: &str) -> Vec<String> {
    let mut r = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) if e.local_name().as_ref() == name.as_bytes() => {
                current = Some(String::new())
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t.decode().unwrap());
                }
            }
            Event::GeneralRef(g) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(match &*g {
                        b"lt" => "<",
                        b"gt" => ">",
                        b"amp" => "&",
                        b"quot" => "\"",
                        b"apos" => "'",
                        other => panic!("unexpected entity {other:?}"),
                    });
                }
            }
            Event::End(e) if e.local_name().as_ref() == name.as_bytes() => {
                out.extend(current.take())
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// "lat,lon lat,lon …" as GeoJSON [lon, lat] positions.
fn cap_polygon(p: &str) -> Vec<[f64; 2]> {
    p.split_whitespace()
        .map(|pair| {
            let (lat, lon) = pair.split_once(',').unwrap();
            [lon.parse().unwrap(), lat.parse().unwrap()]
        })
        .collect()
}

#[tokio::test]
async fn cap_messages_are_valid_cap_1_2_and_carry_the_polygons() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    resident_at(&app, 30.05, 120.05, &[]).await;
    let drawn = json!({"type": "Polygon",
        "coordinates": [[[120.11, 30.02], [120.17, 30.01], [120.19, 30.09], [120.123456789, 30.07], [120.11, 30.02]]]});
    let mut body = alert(json!([zone]));
    body["area"] = drawn.clone();
    body["area_desc"] = json!("Riverside & docks");
    body["expires_at"] = json!("2099-07-21T06:00:00Z");
    let first: Value = app
        .post("/v1/alerts", &official, &body)
        .await
        .json()
        .await
        .unwrap();
    let first_id = first["id"].as_str().unwrap();

    let res = app
        .client
        .get(app.url(&format!("/v1/alerts/{first_id}/cap")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/cap+xml")
    );
    let xml = res.text().await.unwrap();
    let (valid, why) = xmllint(&["--noout", "--schema", &schema()], xml.as_bytes());
    assert!(valid, "CAP 1.2 schema: {why}\n{xml}");
    assert_eq!(texts(&xml, "identifier"), [first_id]);
    assert_eq!(texts(&xml, "msgType"), ["Alert"]);
    assert_eq!(texts(&xml, "expires"), ["2099-07-21T06:00:00+00:00"]);
    assert_eq!(
        texts(&xml, "description"),
        ["Water rising 30 cm an hour. Roads <north> & east closed."]
    );
    assert_eq!(texts(&xml, "areaDesc"), ["Yiqiao", "Riverside & docks"]);
    let polygons = texts(&xml, "polygon");
    assert_eq!(polygons.len(), 2);
    // Round trip: CAP's lat,lon pairs back to GeoJSON give the rings that were sent.
    let zone_ring: Vec<[f64; 2]> = serde_json::from_value(rect(120.0, 30.0, 120.1, 30.1)).unwrap();
    assert_eq!(cap_polygon(&polygons[0]), zone_ring);
    let drawn_ring: Vec<[f64; 2]> =
        serde_json::from_value(drawn["coordinates"][0].clone()).unwrap();
    assert_eq!(cap_polygon(&polygons[1]), drawn_ring);

    // The schema check is not vacuous: the same message with a value CAP does not know fails.
    let broken = xml.replace("<urgency>Immediate</urgency>", "<urgency>Soon</urgency>");
    assert!(!xmllint(&["--noout", "--schema", &schema()], broken.as_bytes()).0);

    // An Update names the alert it updates: CAP's "sender,identifier,sent".
    let mut update = alert(json!([zone]));
    update["msg_type"] = json!("Update");
    update["references"] = json!(first_id);
    update["headline"] = json!("Levee breach widening");
    let second: Value = app
        .post("/v1/alerts", &official, &update)
        .await
        .json()
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();
    let xml = app
        .public_text(&format!("/v1/alerts/{second_id}/cap"))
        .await;
    assert!(
        xmllint(&["--noout", "--schema", &schema()], xml.as_bytes()).0,
        "{xml}"
    );
    let references = texts(&xml, "references");
    assert_eq!(references.len(), 1);
    let parts: Vec<&str> = references[0].split(',').collect();
    assert_eq!(parts[..2], ["safecode@localhost", first_id]);
    assert_eq!(texts(&xml, "sent").len(), 1);
    let first_xml = app.public_text(&format!("/v1/alerts/{first_id}/cap")).await;
    assert_eq!(
        parts[2],
        texts(&first_xml, "sent")[0],
        "the referenced message's sent time"
    );

    // The feed lists both, links to their CAP, and drops the first once cancelled.
    let feed = app.public_text("/v1/alerts.atom").await;
    assert!(
        xmllint(&["--noout"], feed.as_bytes()).0,
        "well-formed: {feed}"
    );
    assert_eq!(
        texts(&feed, "title")[1..],
        ["Levee breach widening", "Levee breach at Yiqiao"]
    );
    assert!(
        feed.contains(&format!("/v1/alerts/{first_id}/cap\"")),
        "{feed}"
    );
    assert!(feed.contains("type=\"application/cap+xml\""));
    let mut cancel = alert(json!([zone]));
    cancel["msg_type"] = json!("Cancel");
    cancel["references"] = json!(first_id);
    cancel["response_type"] = json!("AllClear");
    cancel["headline"] = json!("All clear at Yiqiao");
    assert_eq!(
        app.post("/v1/alerts", &official, &cancel).await.status(),
        201
    );
    let feed = app.public_text("/v1/alerts.atom").await;
    assert!(
        !feed.contains(&format!("{first_id}/cap")),
        "a cancelled alert leaves the feed"
    );
    assert!(feed.contains("All clear at Yiqiao"));

    let missing = app
        .client
        .get(app.url(&format!("/v1/alerts/{}/cap", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not_found").await;
}

/// An alert written in Chinese and English is one CAP message with one `info` per language,
/// each saying its language, and still valid CAP 1.2.
#[tokio::test]
async fn a_bilingual_alert_is_one_cap_info_per_language() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let mut body = alert(json!([zone]));
    body["language"] = json!("en");
    body["translation"] = json!({"headline": "义桥溃堤", "description": "水位每小时上涨30厘米。",
                                 "instruction": "立即前往义桥中学。"});
    let sent: Value = json_ok(app.post("/v1/alerts", &official, &body).await).await;
    let id = sent["id"].as_str().unwrap();
    let xml = app.public_text(&format!("/v1/alerts/{id}/cap")).await;
    let (valid, why) = xmllint(&["--noout", "--schema", &schema()], xml.as_bytes());
    assert!(valid, "CAP 1.2 schema: {why}\n{xml}");
    assert_eq!(texts(&xml, "language"), ["en-US", "zh-CN"]);
    assert_eq!(
        texts(&xml, "headline"),
        ["Levee breach at Yiqiao", "义桥溃堤"]
    );
    assert_eq!(texts(&xml, "instruction")[1], "立即前往义桥中学。");
    // Both blocks describe the same areas.
    assert_eq!(texts(&xml, "areaDesc"), ["Yiqiao", "Yiqiao"]);
    let mut half = body.clone();
    half["translation"] = json!({"headline": "", "description": "x"});
    assert_problem(
        app.post("/v1/alerts", &official, &half).await,
        422,
        "required",
    )
    .await;
}

/// What the local receiver saw: (signature header, body).
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A real HTTP server on a free port that answers 503 to its first request and 200 after.
async fn receiver() -> (String, Seen) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let seen: Seen = Arc::default();
    let state = seen.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let state = state.clone();
                async move {
                    let sig = req
                        .headers()
                        .get("Safecode-Signature")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    let mut seen = state.lock().unwrap();
                    seen.push((sig, body.to_vec()));
                    if seen.len() == 1 {
                        HttpResponse::ServiceUnavailable().finish()
                    } else {
                        HttpResponse::Ok().finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hook"), seen)
}

#[tokio::test]
async fn a_resend_through_the_webhook_is_signed_retried_and_reaches_only_the_pending() {
    const SECRET: &str = "a-test-secret-of-at-least-32-characters";
    let (url, seen) = receiver().await;
    let (mut settings, dir) = test_settings().await;
    // The receiver is plain HTTP on this machine (tests/api/https.rs holds the HTTPS one).
    settings.outbound.plain_http = safecode::outbound::PlainHttp::Loopback;
    settings.alerting.webhook = Some(safecode::config::WebhookSettings {
        url,
        secret: SECRET.into(),
        retry_base_ms: 50,
    });
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, read_it) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (b, _) = resident_at(&app, 30.06, 120.06, &[]).await;
    let (c, _) = resident_at(&app, 30.07, 120.07, &["elderly"]).await;
    let sent: Value = app
        .post("/v1/alerts", &official, &alert(json!([zone])))
        .await
        .json()
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap();
    app.post(&format!("/v1/alerts/{id}/ack"), &read_it, &json!({}))
        .await;

    let res: Value = app
        .post(
            &format!("/v1/alerts/{id}/resend"),
            &official,
            &json!({"channels": ["webhook"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["queued"], json!({"webhook": 2}), "{res}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the retry did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let mut ids = Vec::new();
    for (i, (sig, body)) in seen.iter().enumerate() {
        // The signature is HMAC-SHA256 over "<t>.<body>", computed here independently.
        let (t, v1) = sig.strip_prefix("t=").unwrap().split_once(",v1=").unwrap();
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        assert_eq!(
            v1,
            hex::encode(mac.finalize().into_bytes()),
            "request {i} signed"
        );
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["alert"]["id"], json!(id));
        let mut residents: Vec<String> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["resident_id"].as_str().unwrap().to_owned())
            .collect();
        residents.sort();
        let mut pending = vec![b.clone(), c.clone()];
        pending.sort();
        assert_eq!(residents, pending, "only those who have not acknowledged");
        ids.push(
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].clone())
                .collect::<Vec<_>>(),
        );
        assert_eq!(v["messages"][0]["attempt"], json!(i + 1));
    }
    assert_eq!(ids[0], ids[1], "the retry carries the same message ids");
    // Delivered after the retry: nothing waits, and no phone hears it twice in 10 minutes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let gateway = app.gateway().await;
    loop {
        let left: Value = app
            .get("/v1/outbox?channel=webhook", &gateway)
            .await
            .json()
            .await
            .unwrap();
        if left.as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not marked delivered: {left}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let again: Value = app
        .post(
            &format!("/v1/alerts/{id}/resend"),
            &official,
            &json!({"channels": ["webhook"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["queued"], json!({"webhook": 0}));
}

#[tokio::test]
async fn the_webhook_channel_needs_a_configured_webhook() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    resident_at(&app, 30.05, 120.05, &[]).await;
    let sent: Value = app
        .post("/v1/alerts", &official, &alert(json!([zone])))
        .await
        .json()
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap();
    assert_problem(
        app.post(
            &format!("/v1/alerts/{id}/resend"),
            &official,
            &json!({"channels": ["webhook"]}),
        )
        .await,
        422,
        "webhook_not_configured",
    )
    .await;
}
