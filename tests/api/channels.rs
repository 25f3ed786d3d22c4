//! Alerts through the channels people already use, each against a real local receiver that
//! checks what a real one checks: SMS through a JSON gateway and through Twilio's format
//! (parts of 70 UCS-2 units, a part accepted never sent twice, signed receipts counted once,
//! "reached" apart from "acknowledged"), the one-tap link, DingTalk robots verifying the
//! signature as DingTalk documents it, escalation across channels ending in the door-to-door
//! list, and email over SMTP with STARTTLS.

use crate::helpers::*;
use crate::https::{pki, write};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const RECEIPT_SECRET: &str = "a-receipt-secret-of-at-least-32-chars";
const PUBLIC: &str = "https://safecode.example";

/// (authorization header, JSON body) of every request the gateway saw.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A JSON SMS gateway on a free port: answers `{"message_id": "gw-<n>"}`, except a 503 to
/// its second request.
async fn json_gateway() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let state = seen.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/sms",
            web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                let state = state.clone();
                async move {
                    let auth = req
                        .headers()
                        .get("Authorization")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    let mut seen = state.lock().unwrap();
                    seen.push((auth, body.into_inner()));
                    let n = seen.len();
                    if n == 2 {
                        HttpResponse::ServiceUnavailable().finish()
                    } else {
                        HttpResponse::Ok().json(json!({"message_id": format!("gw-{n}")}))
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
    (format!("http://127.0.0.1:{port}/sms"), seen)
}

fn sign_receipt(body: &[u8]) -> String {
    safecode::service::alerts::webhook::signature(
        RECEIPT_SECRET,
        chrono::Utc::now().timestamp(),
        body,
    )
}

async fn receipt(app: &TestApp, id: &str, signature: Option<String>) -> reqwest::Response {
    let body = serde_json::to_vec(&json!({"message_id": id, "status": "delivered"})).unwrap();
    let mut req = app
        .client
        .post(app.url("/v1/sms/receipts/json"))
        .header("Content-Type", "application/json");
    req = req.header(
        "Safecode-Signature",
        signature.unwrap_or_else(|| sign_receipt(&body)),
    );
    req.body(body).send().await.unwrap()
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn ucs2_units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The alert in Chinese (long enough for several SMS) with its English translation.
fn bilingual(zone: &str) -> Value {
    let mut a = alert_form(json!([zone]));
    a["language"] = json!("zh");
    a["headline"] = json!("义桥镇溃堤：洪水正在迅速上涨");
    a["description"] = json!("义桥镇堤坝决口，水位每小时上涨三十厘米。");
    a["instruction"] = json!(
        "请立即带上身份证和常用药品，沿村东大路步行前往义桥中学避灾安置点，老人和行动不便者请联系村委会安排车辆接送，不要涉水通过低洼路段。"
    );
    a["translation"] = json!({"headline": "Levee breach at Yiqiao: water rising fast",
        "description": "The Yiqiao levee broke; water rises 30 cm an hour.",
        "instruction": "Go to Yiqiao middle school now."});
    a
}

fn sms_settings(settings: &mut safecode::config::Settings, url: &str) {
    settings.outbound.plain_http = safecode::outbound::PlainHttp::Loopback;
    settings.alerting.public_url = Some(PUBLIC.into());
    settings.alerting.retry_base_ms = 50;
    settings.alerting.sms = Some(safecode::config::SmsGateway {
        url: url.into(),
        from: "safecode".into(),
        format: safecode::config::SmsFormat::Json {
            template: json!({"to": "{to}", "text": "{text}", "ref": "{ref}"}),
            id_pointer: "/message_id".into(),
            token: Some("gateway-token".into()),
            receipt_secret: RECEIPT_SECRET.into(),
        },
    });
}

#[tokio::test]
async fn sms_go_in_parts_once_each_are_receipted_once_and_acknowledged_with_one_tap() {
    let (url, seen) = json_gateway().await;
    let (mut settings, dir) = test_settings().await;
    sms_settings(&mut settings, &url);
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, zh) = resident_at(&app, 30.05, 120.05, &[]).await;
    let mut body = resident_body();
    body["location"] = json!({"lat": 30.06, "lon": 120.06});
    body["language"] = json!("en");
    body["phone"] = json!("13900000002");
    let en: Value = app.register(&body).await.json().await.unwrap();
    let en = en["access_token"].as_str().unwrap().to_owned();
    let mut no_phone = resident_body();
    no_phone["location"] = json!({"lat": 30.07, "lon": 120.07});
    no_phone.as_object_mut().unwrap().remove("phone");
    assert_eq!(app.register(&no_phone).await.status(), 201);

    let sent: Value = json_ok(app.post("/v1/alerts", &official, &bilingual(&zone)).await).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    let resent: Value = json_ok(
        app.post(
            &format!("/v1/alerts/{id}/resend"),
            &official,
            &json!({"channels": ["sms"]}),
        )
        .await,
    )
    .await;
    assert_eq!(resent["queued"]["sms"], 2, "the two with a phone");

    // Every part is accepted once: the refused one is sent again, and only it.
    let zh_parts = safecode::domain::message::sms_parts(
        &format!(
            "{}：{}",
            bilingual(&zone)["headline"].as_str().unwrap(),
            bilingual(&zone)["instruction"].as_str().unwrap()
        ),
        Some(&format!("{PUBLIC}/a/AAAAAAAAAAAAAAAAAAAAAA")),
    )
    .len();
    assert!(zh_parts >= 3, "the Chinese message needs several parts");
    let expected_accepted = zh_parts + 1;
    wait_for("every part accepted", async || {
        seen.lock().unwrap().len() > expected_accepted
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        expected_accepted + 1,
        "one request refused, then every part once"
    );
    let accepted: Vec<&(String, Value)> = seen
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, s)| s)
        .collect();
    let mut refs: Vec<&str> = accepted
        .iter()
        .map(|(_, b)| b["ref"].as_str().unwrap())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), accepted.len(), "no part was accepted twice");
    assert!(seen.iter().all(|(auth, _)| auth == "Bearer gateway-token"));
    let to_zh: Vec<&str> = accepted
        .iter()
        .filter(|(_, b)| b["to"] == "+8613912345678")
        .map(|(_, b)| b["text"].as_str().unwrap())
        .collect();
    let mut to_zh_sorted = to_zh.clone();
    to_zh_sorted.sort_by_key(|t| t[1..2].parse::<u32>().unwrap_or(0));
    let n = to_zh_sorted.len();
    assert_eq!(n, zh_parts);
    for (i, part) in to_zh_sorted.iter().enumerate() {
        assert!(
            ucs2_units(part) <= 70,
            "part {i}: {} units",
            ucs2_units(part)
        );
        assert!(part.starts_with(&format!("({}/{n}) ", i + 1)), "{part}");
    }
    assert!(
        to_zh_sorted[0].contains("义桥镇溃堤"),
        "Chinese to the Chinese reader"
    );
    let last = to_zh_sorted[n - 1];
    assert!(last.contains(&format!("{PUBLIC}/a/")), "{last}");
    let to_en: Vec<&str> = accepted
        .iter()
        .filter(|(_, b)| b["to"] == "+8613900000002")
        .map(|(_, b)| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(to_en.len(), 1, "{to_en:?}");
    assert!(
        to_en[0].starts_with("Levee breach at Yiqiao"),
        "{}",
        to_en[0]
    );
    let en_token = to_en[0].rsplit("/a/").next().unwrap().to_owned();
    assert_eq!(en_token.len(), 22);
    assert!(!to_en[0].contains("13900000002") && !to_en[0].contains("王小明"));

    // Receipts: reached once every part of a message arrived; a repeat counts nothing.
    let zh_ids: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(i, (_, b))| *i != 1 && b["to"] == "+8613912345678")
        .map(|(i, _)| format!("gw-{}", i + 1))
        .collect();
    async fn status_of(app: &TestApp, official: &str, id: &str) -> Value {
        json_ok(app.get(&format!("/v1/alerts/{id}"), official).await).await
    }
    let status = |_: &TestApp| status_of(&app, &official, &id);
    for (i, gw) in zh_ids.iter().enumerate() {
        let r = json_ok(receipt(&app, gw, None).await).await;
        assert_eq!(r["counted"], true);
        let reached = status(&app).await["reached"].clone();
        let want = if i + 1 == zh_ids.len() { 1 } else { 0 };
        assert_eq!(reached, want, "after {} of {} parts", i + 1, zh_ids.len());
    }
    let again = json_ok(receipt(&app, &zh_ids[0], None).await).await;
    assert_eq!(again["counted"], false, "a repeated receipt counts once");
    let unknown = json_ok(receipt(&app, "gw-999", None).await).await;
    assert_eq!(unknown["counted"], false);
    assert_problem(
        receipt(&app, "gw-1", Some("t=1,v1=00".into())).await,
        401,
        "unauthenticated",
    )
    .await;
    let st = status(&app).await;
    assert_eq!(
        (st["reached"].clone(), st["acknowledged"].clone()),
        (json!(1), json!(0)),
        "reached is not acknowledged"
    );
    let pending: Value = json_ok(
        app.get(
            &format!("/v1/alerts/{id}/recipients?acknowledged=false"),
            &official,
        )
        .await,
    )
    .await;
    assert_eq!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["reached_at"].is_null())
            .count(),
        1
    );

    // One tap: the link opens the resident page, which acknowledges once.
    let page = app
        .client
        .get(app.url(&format!("/a/{en_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("resident.js"));
    assert_eq!(
        status(&app).await["acknowledged"],
        0,
        "opening the page (or a link preview fetching it) acknowledges nothing"
    );
    let tap = app
        .client
        .post(app.url(&format!("/v1/ack/{en_token}")))
        .send()
        .await
        .unwrap();
    let tap = json_ok(tap).await;
    assert_eq!(tap["language"], "en");
    assert_eq!(tap["alert"]["id"], json!(id));
    assert_eq!(
        tap["alert"]["translation"]["headline"],
        "Levee breach at Yiqiao: water rising fast"
    );
    let inbox: Value = json_ok(app.get("/v1/residents/me/alerts", &en).await).await;
    assert!(!inbox[0]["acknowledged_at"].is_null());
    let inbox: Value = json_ok(app.get("/v1/residents/me/alerts", &zh).await).await;
    assert!(
        inbox[0]["acknowledged_at"].is_null(),
        "only the link's owner"
    );
    let twice = app
        .client
        .post(app.url(&format!("/v1/ack/{en_token}")))
        .send()
        .await
        .unwrap();
    assert_problem(twice, 410, "link_used").await;
    let guessed = app
        .client
        .post(app.url("/v1/ack/BBBBBBBBBBBBBBBBBBBBBB"))
        .send()
        .await
        .unwrap();
    assert_problem(guessed, 404, "not_found").await;

    // Links expire.
    app.exec_sql("UPDATE ack_links SET expires_at = created_at WHERE used_at IS NULL")
        .await;
    let zh_token = last.rsplit("/a/").next().unwrap();
    let late = app
        .client
        .post(app.url(&format!("/v1/ack/{zh_token}")))
        .send()
        .await
        .unwrap();
    assert_problem(late, 410, "link_expired").await;
}

/// A form body's fields, in order.
type Form = Vec<(String, String)>;

/// A Twilio-format gateway: checks HTTP Basic and the form fields, answers a `sid`.
#[tokio::test]
async fn twilio_format_messages_and_signed_status_callbacks() {
    let seen: Arc<Mutex<Vec<Form>>> = Arc::default();
    let state = seen.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/2010-04-01/Accounts/AC1/Messages.json",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let state = state.clone();
                async move {
                    let auth = req
                        .headers()
                        .get("Authorization")
                        .unwrap()
                        .to_str()
                        .unwrap();
                    let expected = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode("AC1:twilio-token")
                    );
                    if auth != expected {
                        return HttpResponse::Unauthorized().finish();
                    }
                    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    let mut seen = state.lock().unwrap();
                    seen.push(form);
                    HttpResponse::Created().json(json!({"sid": format!("SM{}", seen.len())}))
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    let (mut settings, dir) = test_settings().await;
    sms_settings(&mut settings, "http://unused.invalid");
    settings.alerting.sms = Some(safecode::config::SmsGateway {
        url: format!("http://127.0.0.1:{port}/2010-04-01/Accounts/AC1/Messages.json"),
        from: "+8610000000".into(),
        format: safecode::config::SmsFormat::Twilio {
            account: "AC1".into(),
            token: "twilio-token".into(),
        },
    });
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    resident_at(&app, 30.05, 120.05, &[]).await;
    let mut form = alert_form(json!([zone]));
    // English, short: one GSM-7 message, so one receipt reaches the person.
    form["language"] = json!("en");
    let sent: Value = json_ok(app.post("/v1/alerts", &official, &form).await).await;
    let id = sent["id"].as_str().unwrap();
    app.post(&format!("/v1/alerts/{id}/resend"), &official, &json!({}))
        .await;
    wait_for("the gateway", async || !seen.lock().unwrap().is_empty()).await;
    let form = seen.lock().unwrap()[0].clone();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("To"), "+8613912345678");
    assert_eq!(get("From"), "+8610000000");
    assert!(get("Body").contains("Levee breach at Yiqiao"));
    let callback = get("StatusCallback");
    assert_eq!(callback, format!("{PUBLIC}/v1/sms/receipts/twilio"));

    // Twilio signs its callback: HMAC-SHA1 of the URL and the sorted fields, base64.
    let fields = [
        ("MessageSid", "SM1"),
        ("MessageStatus", "delivered"),
        ("AccountSid", "AC1"),
    ];
    let mut sorted = fields.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"twilio-token").unwrap();
    mac.update(callback.as_bytes());
    for (k, v) in &sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let post = |sig: String| {
        app.client
            .post(app.url("/v1/sms/receipts/twilio"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", sig)
            .body(body.clone())
            .send()
    };
    assert_problem(
        post("forged=".into()).await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    let r = json_ok(post(sig.clone()).await.unwrap()).await;
    assert_eq!(r["counted"], true);
    let r = json_ok(post(sig).await.unwrap()).await;
    assert_eq!(
        r["counted"], false,
        "Twilio retries a callback; it counts once"
    );
    // The receipt may come before the server has recorded the hand-over: reached either way.
    wait_for("reached", async || {
        json_ok(app.get(&format!("/v1/alerts/{id}"), &official).await).await["reached"] == 1
    })
    .await;
    // The JSON receipt door is closed when the gateway speaks Twilio.
    assert_problem(receipt(&app, "SM1", None).await, 404, "not_found").await;
}

/// What the DingTalk robot saw: (signature valid, markdown title, markdown text).
type Robot = Arc<Mutex<Vec<(bool, String, String)>>>;

/// A DingTalk group robot: checks `timestamp` (within an hour) and `sign` exactly as DingTalk
/// documents (base64 of HMAC-SHA256 keyed by the secret over "timestamp\nsecret", URL-encoded)
/// and answers errcode 0, or 310000 for a bad signature, as DingTalk does.
async fn dingtalk_robot(secret: &'static str) -> (String, Robot) {
    let seen: Robot = Arc::default();
    let state = seen.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/robot/send",
            web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                let state = state.clone();
                async move {
                    let query: Vec<(String, String)> =
                        url::form_urlencoded::parse(req.query_string().as_bytes())
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                    let get = |k: &str| {
                        query
                            .iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    let ts: i64 = get("timestamp").parse().unwrap_or(0);
                    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                    mac.update(format!("{ts}\n{secret}").as_bytes());
                    let expected = base64::engine::general_purpose::STANDARD
                        .encode(mac.finalize().into_bytes());
                    let fresh = (chrono::Utc::now().timestamp_millis() - ts).abs() < 3_600_000;
                    let ok = fresh
                        && get("sign") == expected
                        && get("access_token") == "robot-token"
                        && body["msgtype"] == "markdown";
                    state.lock().unwrap().push((
                        ok,
                        body["markdown"]["title"]
                            .as_str()
                            .unwrap_or_default()
                            .into(),
                        body["markdown"]["text"].as_str().unwrap_or_default().into(),
                    ));
                    HttpResponse::Ok().json(if ok {
                        json!({"errcode": 0, "errmsg": "ok"})
                    } else {
                        json!({"errcode": 310000, "errmsg": "sign not match"})
                    })
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (
        format!("http://127.0.0.1:{port}/robot/send?access_token=robot-token"),
        seen,
    )
}

#[tokio::test]
async fn escalation_climbs_from_sms_to_a_call_to_the_village_group_and_ends_at_the_door() {
    const SECRET: &str = "SEC0123456789abcdef";
    let (robot_url, robot) = dingtalk_robot(SECRET).await;
    let (mut settings, dir) = test_settings().await;
    settings.outbound.plain_http = safecode::outbound::PlainHttp::Loopback;
    settings.alerting.public_url = Some(PUBLIC.into());
    settings.alerting.retry_base_ms = 50;
    settings.alerting.dingtalk_hosts = vec!["127.0.0.1".into()];
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;

    // Officials set up the village's group; an address on another host is refused.
    let mut contact = json!({"kind": "dingtalk", "name": "Yiqiao village committee",
        "zone_id": zone, "address": robot_url, "secret": SECRET});
    let mut elsewhere = contact.clone();
    elsewhere["address"] = json!("https://attacker.example/robot/send?access_token=x");
    assert_problem(
        app.post("/v1/alert-contacts", &official, &elsewhere).await,
        422,
        "host_not_allowed",
    )
    .await;
    let res = app.post("/v1/alert-contacts", &official, &contact).await;
    assert_eq!(res.status(), 201);
    let listed: Value = json_ok(app.get("/v1/alert-contacts", &official).await).await;
    let text = listed.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains("robot-token"),
        "{text}"
    );
    contact["secret"] = json!("wrong");
    contact["name"] = json!("Misconfigured");

    let (_, a) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (_, b) = resident_at(&app, 30.06, 120.06, &[]).await;
    let (c_id, _) = resident_at(&app, 30.07, 120.07, &["wheelchair"]).await;
    let mut form = bilingual(&zone);
    form["escalate_after"] = json!(5);
    let sent: Value = json_ok(app.post("/v1/alerts", &official, &form).await).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    // The group hears of the alert at once, in its language, signed as DingTalk wants.
    wait_for("the alert in the group", async || {
        !robot.lock().unwrap().is_empty()
    })
    .await;
    {
        let seen = robot.lock().unwrap();
        assert!(seen[0].0, "DingTalk accepted the signature");
        assert_eq!(seen[0].1, "义桥镇溃堤：洪水正在迅速上涨");
        assert!(seen[0].2.contains("义桥中学"), "{}", seen[0].2);
    }
    app.post(&format!("/v1/alerts/{id}/ack"), &a, &json!({}))
        .await;

    let now = chrono::Utc::now();
    let escalate = safecode::service::alerts::escalate_due;
    let gateway = app.gateway().await;
    let outbox = |channel: &'static str| {
        let (app, gateway) = (&app, gateway.clone());
        async move {
            json_ok(
                app.get(&format!("/v1/outbox?channel={channel}"), &gateway)
                    .await,
            )
            .await
            .as_array()
            .unwrap()
            .len()
        }
    };
    assert_eq!(escalate(&app.ctx, now).await.unwrap(), 0, "not yet");
    assert_eq!(
        escalate(&app.ctx, now + chrono::Duration::minutes(6))
            .await
            .unwrap(),
        1
    );
    assert_eq!(outbox("sms").await, 2, "b and c, not a who read it");
    assert_eq!(outbox("voice").await, 0, "one step at a time");
    // b reads it: nothing more goes to b, on any channel, from this moment.
    app.post(&format!("/v1/alerts/{id}/ack"), &b, &json!({}))
        .await;
    assert_eq!(outbox("sms").await, 1, "b's SMS is no longer handed out");
    assert_eq!(
        escalate(&app.ctx, now + chrono::Duration::minutes(12))
            .await
            .unwrap(),
        1
    );
    assert_eq!(outbox("voice").await, 1, "a call for c alone");
    assert_eq!(
        escalate(&app.ctx, now + chrono::Duration::minutes(18))
            .await
            .unwrap(),
        1
    );
    wait_for("the escalation in the group", async || {
        robot.lock().unwrap().len() >= 2
    })
    .await;
    {
        let seen = robot.lock().unwrap();
        assert!(seen[1].0);
        assert!(seen[1].1.starts_with("【未确认】"), "{}", seen[1].1);
        assert!(seen[1].2.contains("1 人"), "{}", seen[1].2);
        assert!(
            seen[1].2.contains(&format!("{PUBLIC}/ops#door={id}")),
            "{}",
            seen[1].2
        );
        assert!(!seen[1].2.contains("王小明"), "no names in a group chat");
    }
    assert_eq!(
        escalate(&app.ctx, now + chrono::Duration::minutes(60))
            .await
            .unwrap(),
        0,
        "the ladder has ended"
    );

    let door: Value = json_ok(
        app.get(&format!("/v1/alerts/{id}/door-to-door"), &official)
            .await,
    )
    .await;
    assert_eq!(door["escalation_done"], true);
    let villages = door["villages"].as_array().unwrap();
    assert_eq!(villages.len(), 1);
    assert_eq!(villages[0]["name"], "Yiqiao");
    let people = villages[0]["people"].as_array().unwrap();
    assert_eq!(people.len(), 1, "only c is left: {door}");
    assert_eq!(people[0]["resident_id"], json!(c_id));
    assert_eq!(people[0]["needs"], json!(["wheelchair"]));
    let tried: Vec<&str> = people[0]["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["channel"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["sms", "voice"], "what was tried, in order");
    assert!(
        app.audit_actions()
            .await
            .contains(&"alert.door_to_door.read".to_owned())
    );
    // The officials of each village get their own doors: a district holding c's corner sees c,
    // one holding only a's corner sees no one (a acknowledged), and neither sees the rest.
    let corner = |lon0: f64, lat0: f64| json!({"type": "Polygon", "coordinates": [rect(lon0, lat0, lon0 + 0.005, lat0 + 0.005)]});
    let (_, here) = app
        .create_user(
            "official",
            json!({"jurisdiction": corner(120.0675, 30.0675)}),
        )
        .await;
    let (_, there) = app
        .create_user(
            "official",
            json!({"jurisdiction": corner(120.0475, 30.0475)}),
        )
        .await;
    let seen_by = |token: String| {
        let (app, id) = (&app, id.clone());
        async move {
            let d: Value = json_ok(
                app.get(&format!("/v1/alerts/{id}/door-to-door"), &token)
                    .await,
            )
            .await;
            d["villages"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|v| v["people"].as_array().unwrap().clone())
                .map(|p| p["resident_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seen_by(here).await, std::slice::from_ref(&c_id));
    assert!(seen_by(there).await.is_empty());

    // A robot that refuses the message (a wrong secret) is retried, then given up.
    let res = app.post("/v1/alert-contacts", &official, &contact).await;
    assert_eq!(res.status(), 201);
    let again: Value = json_ok(
        app.post("/v1/alerts", &official, &alert_form(json!([zone])))
            .await,
    )
    .await;
    assert!(again["id"].is_string());
    wait_for("a refused message retried", async || {
        robot.lock().unwrap().iter().filter(|s| !s.0).count() >= 2
    })
    .await;
}

/// A mail server on a free port that offers STARTTLS with the test CA's certificate, refuses
/// mail before TLS, and keeps what it is sent.
async fn smtp_server(p: &crate::https::Pki) -> (u16, Arc<Mutex<Vec<String>>>) {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(p.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(p.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mail: Arc<Mutex<Vec<String>>> = Arc::default();
    let store = mail.clone();
    tokio::spawn(async move {
        loop {
            let (mut plain, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let store = store.clone();
            tokio::spawn(async move {
                plain.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut r = BufReader::new(&mut plain);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim().to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-test\r\n250 STARTTLS\r\n"
                    } else if cmd == "STARTTLS" {
                        r.get_mut().write_all(b"220 go ahead\r\n").await.unwrap();
                        break;
                    } else if cmd == "QUIT" {
                        return;
                    } else {
                        b"530 Must issue a STARTTLS command first\r\n"
                    };
                    r.get_mut().write_all(reply).await.unwrap();
                }
                let tls = acceptor.accept(plain).await.unwrap();
                let (rd, mut wr) = tokio::io::split(tls);
                let mut rd = BufReader::new(rd);
                let mut data = String::new();
                let mut in_data = false;
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if in_data {
                        if line == ".\r\n" {
                            in_data = false;
                            store.lock().unwrap().push(std::mem::take(&mut data));
                            wr.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                        }
                        continue;
                    }
                    let cmd = line.trim().to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if cmd == "DATA" {
                        in_data = true;
                        b"354 end with .\r\n"
                    } else if cmd == "QUIT" {
                        wr.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    wr.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mail)
}

#[tokio::test]
async fn officials_escalations_go_out_by_email_over_starttls() {
    let p = pki("smtp");
    let (port, mail) = smtp_server(&p).await;
    let (mut settings, dir) = test_settings().await;
    settings.outbound.extra_ca = Some(write(dir.path(), "ca.pem", &p.ca_pem));
    settings.alerting.public_url = Some(PUBLIC.into());
    settings.alerting.retry_base_ms = 50;
    settings.alerting.smtp = Some(safecode::config::SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        from: "alerts@safecode.example".into(),
    });
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let res = app
        .post(
            "/v1/alert-contacts",
            &official,
            &json!({"kind": "email", "name": "Yiqiao duty officer", "zone_id": zone,
                    "address": "duty@yiqiao.example", "language": "en"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["address_hint"], "d…@yiqiao.example");
    resident_at(&app, 30.05, 120.05, &[]).await;
    let mut form = bilingual(&zone);
    form["escalate_after"] = json!(1);
    let sent: Value = json_ok(app.post("/v1/alerts", &official, &form).await).await;
    let id = sent["id"].as_str().unwrap();
    let escalate = safecode::service::alerts::escalate_due;
    let now = chrono::Utc::now();
    for m in [2, 4, 6] {
        escalate(&app.ctx, now + chrono::Duration::minutes(m))
            .await
            .unwrap();
    }
    wait_for("two emails", async || mail.lock().unwrap().len() >= 2).await;
    // Bodies come quoted-printable: soft breaks and "=3D" undone for reading.
    let mail: Vec<String> = mail
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.replace("=\r\n", "").replace("=3D", "="))
        .collect();
    assert!(mail[0].contains("To: duty@yiqiao.example"), "{}", mail[0]);
    assert!(
        mail[0].contains("Subject: Levee breach at Yiqiao: water rising fast"),
        "in the contact's language: {}",
        mail[0]
    );
    assert!(mail[1].contains("Not acknowledged"), "{}", mail[1]);
    assert!(
        mail[1].contains("1 person in Yiqiao has still not"),
        "{}",
        mail[1]
    );
    assert!(mail[1].contains(&format!("/ops#door={id}")), "{}", mail[1]);

    // Without a mail server, an email contact is refused rather than left to fail.
    let plain = spawn_app().await;
    let o = plain.official().await;
    let z = plain.square_zone(&o, "Yiqiao").await;
    assert_problem(
        plain
            .post(
                "/v1/alert-contacts",
                &o,
                &json!({"kind": "email", "name": "x", "zone_id": z, "address": "a@b.example"}),
            )
            .await,
        422,
        "email_not_configured",
    )
    .await;
}

/// A resident taps the link in their SMS on a phone that never registered on this page: the
/// page acknowledges, shows the alert in their language and drops the token from the address.
#[tokio::test]
async fn the_link_in_an_sms_acknowledges_in_a_real_browser() {
    let (url, seen) = json_gateway().await;
    let (mut settings, dir) = test_settings().await;
    sms_settings(&mut settings, &url);
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let mut body = resident_body();
    body["location"] = json!({"lat": 30.05, "lon": 120.05});
    body["language"] = json!("en");
    let me: Value = app.register(&body).await.json().await.unwrap();
    let token = me["access_token"].as_str().unwrap().to_owned();
    let sent: Value = json_ok(app.post("/v1/alerts", &official, &bilingual(&zone)).await).await;
    let id = sent["id"].as_str().unwrap();
    app.post(&format!("/v1/alerts/{id}/resend"), &official, &json!({}))
        .await;
    // The gateway refuses its second request; one message is one request here.
    wait_for("the SMS", async || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b["text"].as_str().unwrap_or_default().contains("/a/"))
    })
    .await;
    let text = seen
        .lock()
        .unwrap()
        .iter()
        .find_map(|(_, b)| {
            b["text"]
                .as_str()
                .filter(|t| t.contains("/a/"))
                .map(str::to_owned)
        })
        .unwrap();
    let link = text.rsplit("/a/").next().unwrap().to_owned();

    let b = crate::browser::Browser::start(&[]).await;
    b.goto(&app.url(&format!("/a/{link}"))).await;
    b.wait_for("#acked").await;
    let shown = b.text("#acked").await;
    assert!(
        shown.contains("Levee breach at Yiqiao: water rising fast"),
        "{shown}"
    );
    let path = b.js("return location.pathname", vec![]).await;
    assert_eq!(path, json!("/"), "the token left the address bar");
    let inbox: Value = json_ok(app.get("/v1/residents/me/alerts", &token).await).await;
    assert!(!inbox[0]["acknowledged_at"].is_null());
    b.close().await;
}

/// An official at the console writes an alert in both languages, sets up the village's group,
/// and after escalation opens the door-to-door list from the link the group was sent.
#[tokio::test]
async fn an_official_sends_a_bilingual_alert_from_the_console_and_opens_the_door_list() {
    const SECRET: &str = "SECconsole0123456789";
    let (robot_url, robot) = dingtalk_robot(SECRET).await;
    let (mut settings, dir) = test_settings().await;
    settings.outbound.plain_http = safecode::outbound::PlainHttp::Loopback;
    settings.alerting.retry_base_ms = 50;
    settings.alerting.dingtalk_hosts = vec!["127.0.0.1".into()];
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Yiqiao").await;
    let (_, _) = resident_at(&app, 30.05, 120.05, &["elderly"]).await;
    let b = crate::console::official_console(&app, "duty.officer").await;
    b.js("window.confirm = () => true;", vec![]).await;

    // The village's group, from the console.
    b.wait_for(&format!("#c-zone option[value='{zone}']")).await;
    b.select("#c-zone", &zone).await;
    b.fill("#c-name", "Yiqiao committee").await;
    b.fill("#c-address", &robot_url).await;
    b.fill("#c-secret", SECRET).await;
    b.click("#contact-form button[type=submit]").await;
    b.until(
        "document.getElementById('contacts').textContent.includes('Yiqiao committee')",
        "the contact listed",
    )
    .await;
    assert!(!b.text("#contacts").await.contains("robot-token"));

    // The alert, in Chinese with its English translation.
    b.js(
        "const o = [...document.querySelectorAll('#a-zones option')].find((o) => o.value === arguments[0]); o.selected = true;",
        vec![json!(zone)],
    )
    .await;
    b.fill("#a-headline-zh", "义桥溃堤").await;
    b.fill("#a-description-zh", "水位快速上涨。").await;
    b.fill("#a-instruction-zh", "立即前往义桥中学。").await;
    b.fill("#a-headline-en", "Levee breach at Yiqiao").await;
    b.fill("#a-description-en", "Water rising fast.").await;
    b.fill("#a-instruction-en", "Go to Yiqiao school now.")
        .await;
    b.fill("#a-escalate", "5").await;
    b.click("#alert-form button[type=submit]").await;
    b.until(
        "document.getElementById('alerts').textContent.includes('义桥溃堤')",
        "the alert listed",
    )
    .await;
    let alerts: Value = json_ok(app.get("/v1/alerts", &official).await).await;
    let a = &alerts[0];
    assert_eq!(a["language"], "zh");
    assert_eq!(a["translation"]["headline"], "Levee breach at Yiqiao");
    assert_eq!(a["recipients"], 1);
    // Sent under a key of the console's own (and the contact too): Send pressed again after a
    // lost answer hands back this alert instead of sending a second.
    let keyed: Vec<String> = safecode::on_db!(&app.ctx.db, |c| {
        sqlx::query_scalar("SELECT scope FROM idempotency ORDER BY scope")
            .fetch_all(c)
            .await
            .unwrap()
    });
    assert_eq!(keyed.len(), 2, "{keyed:?}");
    assert!(keyed[0].starts_with("alert:") && keyed[1].starts_with("alert_contact:"));
    wait_for("the group told", async || !robot.lock().unwrap().is_empty()).await;
    assert!(robot.lock().unwrap()[0].0, "signed as DingTalk checks");

    // Escalation runs its steps; the door-to-door list opens from its link.
    let id = a["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    for m in [6, 12, 18] {
        safecode::service::alerts::escalate_due(&app.ctx, now + chrono::Duration::minutes(m))
            .await
            .unwrap();
    }
    b.goto(&app.url(&format!("/ops#door={id}"))).await;
    b.until(
        "!document.getElementById('door').hidden",
        "the door-to-door list",
    )
    .await;
    let list = b.text("#door-list").await;
    assert!(list.contains("Yiqiao · 1"), "{list}");
    assert!(list.contains("王小明"), "{list}");
    assert!(list.contains("sms") && list.contains("voice"), "{list}");
    b.close().await;
}
