//! Signing in as people do it, in headless Chromium (issue 18): an official opens their setup
//! link, enrols an authenticator, signs in with password and code, is refused with a wrong
//! code and after too many, signs out, and the cookie is dead on another server; a cross-site
//! form changes nothing; a desk phone is enrolled by filming the QR code on the official's
//! screen, admits a resident, is revoked on /ops and refused on its next scan.

use crate::browser::{Browser, y4m_of};
use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "typhoon season 2026";

fn secret_of(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &compact).expect("base32")
}

async fn message(b: &Browser) -> String {
    b.js(
        "return document.getElementById('message').textContent;",
        vec![],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test]
async fn an_official_sets_up_signs_in_with_a_code_is_locked_out_briefly_and_signs_out_everywhere() {
    let app = spawn_app().await;
    let created = json_ok(
        app.post(
            "/v1/users",
            &app.admin_token,
            &json!({"role": "official", "name": "Wang Li", "login": "wang.li"}),
        )
        .await,
    )
    .await;
    let setup_url = created["setup_url"].as_str().unwrap();
    assert!(setup_url.starts_with(&app.address), "{setup_url}");

    let b = Browser::start(&[]).await;
    b.goto(setup_url).await;
    b.until("!document.getElementById('setup').hidden", "the setup form")
        .await;
    assert_eq!(b.text("#setup-login").await, "wang.li");
    assert_eq!(
        b.js("return location.hash;", vec![]).await,
        "",
        "the link leaves the address bar"
    );
    let secret = secret_of(&b.text("#setup-secret").await);
    b.screenshot("setup-authenticator").await;
    b.fill("#setup-password", PASSWORD).await;
    b.fill("#setup-code", &totp_now(&secret, 0)).await;
    b.click("#setup button[type=submit]").await;
    b.until(
        "!document.getElementById('recovery').hidden",
        "recovery codes",
    )
    .await;
    let codes = b
        .js(
            "return [...document.querySelectorAll('#recovery-codes li')].map(l => l.textContent);",
            vec![],
        )
        .await;
    assert_eq!(codes.as_array().unwrap().len(), 10);
    b.click("#recovery-done").await;
    b.until("!document.getElementById('board').hidden", "the board")
        .await;

    // Signed out, then in again with the form a person uses.
    b.click("#signout").await;
    b.until(
        "!document.getElementById('password-signin').hidden",
        "the sign-in form",
    )
    .await;
    assert!(b.cookie("sc_session").await.is_none());
    b.fill("#login", "wang.li").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#code", &wrong_code(&secret)).await;
    b.click("#password-signin button[type=submit]").await;
    b.until(
        "document.getElementById('message').textContent.includes('wrong')",
        "a refusal",
    )
    .await;
    assert!(
        b.js("return document.getElementById('board').hidden;", vec![])
            .await
            == json!(true)
    );
    b.fill("#password", PASSWORD).await;
    b.fill("#code", &totp_now(&secret, 1)).await;
    b.click("#password-signin button[type=submit]").await;
    b.until(
        "!document.getElementById('board').hidden",
        "the board after sign-in",
    )
    .await;
    let cookie = b
        .cookie("sc_session")
        .await
        .expect("the browser keeps the session cookie");
    b.screenshot("ops-signed-in").await;

    // A page on another site posts a form at safecode: the session is untouched.
    let other = format!(
        "data:text/html,<form id=f method=post action='{}/v1/auth/sign-out'></form>\
         <script>document.getElementById('f').submit()</script>",
        app.address
    );
    b.goto(&other).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let res = app
        .with_session(Method::GET, "/v1/auth/session", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a cross-site form did not sign the official out"
    );
    let res = app
        .client
        .post(app.url("/v1/auth/sign-out"))
        .header("Cookie", format!("sc_session={cookie}"))
        .header("Origin", "null")
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "cross_site_request").await;

    // Signing out on the page ends the session on another server process too.
    let second = another_server(&app).await;
    assert_eq!(
        second
            .with_session(Method::GET, "/v1/zones", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    b.goto(&app.url("/ops")).await;
    b.until(
        "!document.getElementById('board').hidden",
        "the board again",
    )
    .await;
    b.click("#signout").await;
    b.until(
        "!document.getElementById('password-signin').hidden",
        "signed out",
    )
    .await;
    let res = second
        .with_session(Method::GET, "/v1/zones", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;

    // Five wrong codes: the sixth try, right, is told to wait.
    for _ in 0..5 {
        b.fill("#login", "wang.li").await;
        b.fill("#password", PASSWORD).await;
        b.fill("#code", &wrong_code(&secret)).await;
        b.click("#password-signin button[type=submit]").await;
        b.until(
            "document.getElementById('message').textContent.includes('wrong')",
            "a refusal",
        )
        .await;
        b.js(
            "document.getElementById('message').textContent = '';",
            vec![],
        )
        .await;
    }
    b.fill("#password", PASSWORD).await;
    b.fill("#code", &totp_now(&secret, 1)).await;
    b.click("#password-signin button[type=submit]").await;
    b.until(
        "document.getElementById('message').textContent.includes('try again')",
        "the lock",
    )
    .await;
    assert!(message(&b).await.contains("try again"));
    b.close().await;
}

#[tokio::test]
async fn a_desk_phone_is_enrolled_by_filming_the_code_on_ops_admits_and_is_refused_once_revoked() {
    let app = spawn_app().await;
    let official = app.official().await;
    let gym = json_ok(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "Yiqiao gym", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 40}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The official asks for an enrolment code on /ops.
    let ops = Browser::start(&[]).await;
    ops.goto(&app.url("/ops")).await;
    ops.click("#token-door summary").await;
    ops.fill("#ops-token", &official).await;
    ops.click("#signin button[type=submit]").await;
    ops.click(&format!("#shelters tr[data-shelter='{gym}'] button.desks"))
        .await;
    ops.fill("#enrol-name", "Gym desk 2").await;
    ops.click("#enrol-form button[type=submit]").await;
    ops.until(
        "!document.getElementById('enrolment').hidden \
         && document.getElementById('enrol-qr').naturalWidth > 0 \
         && document.getElementById('enrol-qr').getBoundingClientRect().height > 100",
        "the code",
    )
    .await;
    let png = ops.element_png("#enrol-qr", "ops-enrolment-code").await;
    // What the phone will see is the real rendered code: decode it as a check of the picture.
    let link = safecode::qr::decode(&png).expect("the code on the screen reads");
    assert!(
        link.starts_with(&format!("{}/scan#enrol=", app.address)),
        "{link}"
    );

    // The volunteer's phone films the screen.
    let camera = y4m_of(&png);
    let phone = Browser::start(&[
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-video-capture={}", camera.display()),
    ])
    .await;
    phone.goto(&app.url("/scan")).await;
    phone.click("#enrol").await;
    phone
        .until("!document.getElementById('desk').hidden", "the desk")
        .await;
    assert!(phone.text("#device-info").await.contains("Gym desk 2"));
    std::fs::remove_file(&camera).ok();
    let kept = phone
        .js("return localStorage.getItem('sc_staff');", vec![])
        .await;
    assert!(
        kept.as_str().is_some_and(|t| t.contains("sc_")),
        "the page keeps the credential"
    );
    assert!(
        !phone
            .js("return document.body.innerText;", vec![])
            .await
            .as_str()
            .unwrap()
            .contains("sc_"),
        "never shown"
    );
    phone
        .until(
            &format!("document.getElementById('shelter').value === '{gym}'"),
            "its shelter",
        )
        .await;

    // It admits a resident (a code typed from a hardware reader).
    let (_, resident) = app.registered().await;
    let code = code_of(&app, &resident).await;
    phone.fill("#token-input", &code).await;
    phone.click("#typed button[type=submit]").await;
    phone
        .until("!document.getElementById('verdict').hidden", "a verdict")
        .await;
    phone.click("#admit").await;
    phone
        .until(
            "document.getElementById('message').textContent.startsWith('Admitted')",
            "admitted",
        )
        .await;

    // /ops lists the phone with its last use, and revokes it.
    ops.until(
        "document.querySelector('#devices li[data-device]') !== null",
        "the phone on /ops",
    )
    .await;
    ops.screenshot("ops-desk-phones").await;
    ops.click("#devices li[data-device] button.revoke").await;
    ops.until(
        "document.querySelector('#devices li[data-device] button.revoke') === null",
        "revoked",
    )
    .await;

    // Its next scan is refused and the phone keeps nothing.
    phone.fill("#token-input", &code).await;
    phone.click("#typed button[type=submit]").await;
    phone
        .until(
            "!document.getElementById('enrol-door').hidden",
            "signed out",
        )
        .await;
    assert!(message(&phone).await.contains("signed out"));
    // Only the language and the verifier's pinned public keys stay: nothing about anyone.
    let left = phone
        .js(
            "return Object.keys(localStorage).filter(k => k !== 'sc_lang' && k !== 'sc_trust');",
            vec![],
        )
        .await;
    assert_eq!(left, json!([]), "nothing is kept");
    let trust = phone
        .js("return localStorage.getItem('sc_trust') || '';", vec![])
        .await;
    assert!(!trust.as_str().unwrap().contains("SC1:"), "{trust}");

    // An enrolment code that has expired is refused, opened as a link by the phone's camera app.
    let offer = json_ok(
        app.post(
            &format!("/v1/shelters/{gym}/enrolments"),
            &official,
            &json!({"name": "Gym desk 3"}),
        )
        .await,
    )
    .await;
    app.exec_sql("UPDATE device_enrolments SET expires_at = '2000-01-01T00:00:00Z' WHERE name = 'Gym desk 3'")
        .await;
    phone.goto("about:blank").await;
    phone.goto(offer["url"].as_str().unwrap()).await;
    phone
        .until(
            "document.getElementById('message').textContent.includes('expired')",
            "the refusal",
        )
        .await;
    assert!(
        phone
            .js("return document.getElementById('desk').hidden;", vec![])
            .await
            == json!(true)
    );
    phone.close().await;
    ops.close().await;
}

#[tokio::test]
async fn an_official_adds_a_passkey_and_signs_in_with_it_alone() {
    let app = spawn_app().await;
    let li = app.person("official", "li.na", json!({})).await;
    // WebAuthn needs a host name: the page is opened as localhost (an IP address cannot be
    // an RP ID, and the API says so).
    let res = app.post("/v1/auth/passkey/options", "", &json!({})).await;
    assert_problem(res, 409, "passkeys_unavailable").await;
    let site = app.address.replace("127.0.0.1", "localhost");

    let b = Browser::start(&[]).await;
    b.goto(&format!("{site}/ops")).await;
    b.virtual_authenticator().await;
    b.fill("#login", "li.na").await;
    b.fill("#password", "a long enough passphrase").await;
    b.fill("#code", &totp_now(&li.secret, 1)).await;
    b.click("#password-signin button[type=submit]").await;
    b.until("!document.getElementById('board').hidden", "the board")
        .await;
    b.click("#passkey-add").await;
    b.until(
        "document.getElementById('message').textContent.startsWith('Passkey added')",
        "the passkey",
    )
    .await;

    b.click("#signout").await;
    b.until(
        "!document.getElementById('password-signin').hidden",
        "signed out",
    )
    .await;
    b.click("#passkey-signin").await;
    b.until(
        "!document.getElementById('board').hidden",
        "the board by passkey",
    )
    .await;
    b.screenshot("ops-passkey-signed-in").await;
    let entries = json_ok(app.get("/v1/audit?limit=1000", &app.admin_token).await).await;
    let by_passkey = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.sign_in" && e["after"]["factor"] == "passkey")
        .count();
    assert_eq!(by_passkey, 1);

    // A reset forgets the passkeys with the password; the open console notices by itself
    // (the reset moves the live counters, the refetch meets a 401) and returns to sign-in.
    app.reset_sign_in(&li.user_id).await;
    b.until(
        "!document.getElementById('password-signin').hidden",
        "signed out by the reset",
    )
    .await;
    b.click("#passkey-signin").await;
    b.until(
        "document.getElementById('message').textContent.includes('wrong')",
        "the refusal",
    )
    .await;
    b.close().await;
}
