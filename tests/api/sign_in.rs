//! Officials and admins sign in with a password and a second factor; shelter phones are
//! enrolled with a one-time code (issue 18).

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "a long enough passphrase";

#[tokio::test]
async fn an_official_signs_in_with_password_and_code_and_the_session_ends_everywhere_at_sign_out() {
    let app = spawn_app().await;
    let wang = app.person("official", "wang.li", json!({})).await;
    assert_eq!(wang.recovery_codes.len(), 10);

    // The setup link is spent: it cannot be replayed.
    let res = app
        .sign_in("wang.li", PASSWORD, &totp_now(&wang.secret, 0))
        .await;
    assert_problem(res, 401, "sign_in_failed").await; // that code was spent by the setup
    for (login, password, code) in [
        ("wang.li", "not the passphrase", totp_now(&wang.secret, 1)),
        ("wang.li", PASSWORD, wrong_code(&wang.secret)),
        ("nobody", PASSWORD, totp_now(&wang.secret, 1)),
    ] {
        let res = app.sign_in(login, password, &code).await;
        assert!(session_cookie(&res).is_none());
        let p = assert_problem(res, 401, "sign_in_failed").await;
        assert!(
            !p.to_string().contains(login),
            "the answer does not echo the name"
        );
    }
    let res = app
        .sign_in("Wang.Li", PASSWORD, &totp_now(&wang.secret, 1))
        .await;
    let (cookie, header) = session_cookie(&res).expect("a session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(header.contains(attr), "{header} has {attr}");
    }
    assert_eq!(res.status(), 200);
    assert!(
        !json_ok(res).await.to_string().contains(&cookie),
        "the token is only in the cookie"
    );

    // The cookie works for reads and, from this site's pages, for writes.
    let me = json_ok(
        app.with_session(Method::GET, "/v1/auth/session", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["role"], "official");
    let zone = feature(
        "Riverside",
        json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.1, 30.1)]}),
    );
    let res = app
        .with_session(Method::POST, "/v1/zones", &cookie)
        .json(&zone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);

    // A cross-site form or script carrying the cookie changes nothing.
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut req = app
            .client
            .post(app.url("/v1/zones"))
            .header("Cookie", format!("sc_session={cookie}"))
            .json(&zone);
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        assert_problem(req.send().await.unwrap(), 403, "cross_site_request").await;
    }
    // The session token is no bearer token.
    assert_problem(app.get("/v1/zones", &cookie).await, 401, "unauthenticated").await;

    // Signed out on one server: refused on another at once.
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
    let res = app
        .with_session(Method::POST, "/v1/auth/sign-out", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = second
        .with_session(Method::GET, "/v1/zones", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;

    let actions = app.audit_actions().await;
    for a in [
        "auth.factor_enrolled",
        "auth.sign_in_failed",
        "auth.sign_in",
        "auth.sign_out",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    let trail = app
        .get("/v1/audit?limit=1000", &app.admin_token)
        .await
        .text()
        .await
        .unwrap();
    assert!(!trail.contains("wang.li") && !trail.contains(PASSWORD));
}

#[tokio::test]
async fn wrong_codes_lock_the_account_briefly_wrong_passwords_do_not_and_a_recovery_code_still_works()
 {
    let app = spawn_app().await;
    let admin = app.person("admin", "root", json!({})).await;
    // Wrong passwords, however many, lock nothing and say nothing about the name.
    for login in ["root", "root", "root", "root", "root", "root", "nobody"] {
        let res = app
            .sign_in(login, "guessing the passphrase", "123456")
            .await;
        assert_problem(res, 401, "sign_in_failed").await;
    }
    // The right password with wrong codes (someone knows the password): the account waits.
    for _ in 0..5 {
        let res = app
            .sign_in("root", PASSWORD, &wrong_code(&admin.secret))
            .await;
        assert_problem(res, 401, "sign_in_failed").await;
    }
    let res = app
        .sign_in("root", PASSWORD, &totp_now(&admin.secret, 1))
        .await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=30).contains(&retry),
        "locked for at most 30 s after five: {retry}"
    );
    assert_problem(res, 429, "account_locked").await;

    // The owner's recovery code (unguessable) works while the lock holds, once.
    let code = &admin.recovery_codes[0];
    let res = app.sign_in("root", PASSWORD, code).await;
    assert_eq!(res.status(), 200);
    let (cookie, _) = session_cookie(&res).unwrap();
    let res = app
        .with_session(Method::GET, "/v1/auth/session", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_problem(
        app.sign_in("root", PASSWORD, code).await,
        401,
        "sign_in_failed",
    )
    .await;
    // The good sign-in cleared the count: the next code works at once.
    let res = app
        .sign_in("root", PASSWORD, &totp_now(&admin.secret, 1))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn sessions_end_when_idle_when_disabled_and_when_reset_and_a_setup_link_works_once() {
    let app = spawn_app().await;
    let first = app.person("official", "chen.yu", json!({})).await;

    // Idle: a session unused for longer than the idle timeout is over.
    app.exec_sql(
        "UPDATE access_tokens SET last_used_at = '2000-01-01T00:00:00Z' WHERE kind = 'session' \
         AND user_id = (SELECT id FROM users WHERE login = 'chen.yu')",
    )
    .await;
    let res = app
        .with_session(Method::GET, "/v1/zones", &first.cookie)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;

    // An admin's reset ends every session and gives a new link; the old link is dead.
    let res = app
        .sign_in("chen.yu", PASSWORD, &totp_now(&first.secret, 1))
        .await;
    let (cookie, _) = session_cookie(&res).unwrap();
    let code = app.reset_sign_in(&first.user_id).await;
    assert_problem(
        app.with_session(Method::GET, "/v1/zones", &cookie)
            .send()
            .await
            .unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.sign_in("chen.yu", PASSWORD, &totp_now(&first.secret, 1))
            .await,
        401,
        "sign_in_failed",
    )
    .await;
    let again = app.finish_setup(&code, "another long passphrase").await;
    assert_ne!(again.secret, first.secret, "a new authenticator secret");
    let res = app
        .client
        .post(app.url("/v1/auth/setup/offer"))
        .json(&json!({"setup_code": code}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 409, "setup_link_invalid").await;

    // A disabled account's session ends at once.
    let res = app
        .delete(&format!("/v1/users/{}", again.user_id), &app.admin_token)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .with_session(Method::GET, "/v1/zones", &again.cookie)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthenticated").await;

    // A weak password and a taken name are refused with the reason.
    let created = json_ok(
        app.post(
            "/v1/users",
            &app.admin_token,
            &json!({"role": "official", "name": "x", "login": "zhao"}),
        )
        .await,
    )
    .await;
    let code = &setup_code_of(created["setup_url"].as_str().unwrap());
    app.client
        .post(app.url("/v1/auth/setup/offer"))
        .json(&json!({"setup_code": code}))
        .send()
        .await
        .unwrap();
    let res = app
        .client
        .post(app.url("/v1/auth/setup"))
        .json(&json!({"setup_code": code, "password": "short", "code": "123456"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "weak_password").await;
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            &json!({"role": "staff", "name": "y", "login": "ZHAO"}),
        )
        .await;
    assert_problem(res, 409, "login_taken").await;
}

async fn shelter(app: &TestApp, official: &str, lon: f64) -> String {
    let v = json_ok(app.post("/v1/shelters", official, &json!({
        "name": "Yiqiao middle school gym", "location": {"lat": 30.05, "lon": lon}, "capacity": 50
    })).await).await;
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_desk_phone_enrolled_with_a_one_time_code_works_at_its_shelter_until_revoked() {
    let app = spawn_app().await;
    let official = app.official().await;
    let gym = shelter(&app, &official, 120.05).await;
    let hall = shelter(&app, &official, 120.06).await;

    let offer = json_ok(
        app.post(
            &format!("/v1/shelters/{gym}/enrolments"),
            &official,
            &json!({"name": "Gym desk 2"}),
        )
        .await,
    )
    .await;
    let url = offer["url"].as_str().unwrap();
    assert!(url.contains("/scan#enrol="), "{url}");
    assert!(offer["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let enrol = |code: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/devices/enrol"))
                .json(&json!({"code": code}))
                .send()
                .await
                .unwrap()
        }
    };
    // The whole link (as a phone's camera reads it) or the code alone.
    let device = json_ok(enrol(url.to_owned()).await).await;
    let token = device["token"].as_str().unwrap().to_owned();
    assert_eq!(device["shelter_id"], gym.as_str());
    assert_problem(enrol(url.to_owned()).await, 409, "enrolment_invalid").await;

    // It acts at its own shelter and nowhere else.
    let (_, resident) = app.registered().await;
    let code = code_of(&app, &resident).await;
    let res = app
        .post(
            &format!("/v1/shelters/{gym}/checkins"),
            &token,
            &json!({"token": code}),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let res = app
        .post(
            &format!("/v1/shelters/{hall}/checkins"),
            &token,
            &json!({"token": code}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.post(
            "/v1/zones",
            &token,
            &feature("x", rect(120.0, 30.0, 120.1, 30.1))
        )
        .await
        .status(),
        403
    );

    // Officials see it with its last use; a renewal moves its end.
    let list = json_ok(
        app.get(&format!("/v1/shelters/{gym}/devices"), &official)
            .await,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Gym desk 2");
    assert!(list[0]["last_used_at"].is_string());
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let renewed = json_ok(
        app.post(
            &format!("/v1/shelters/{gym}/devices/{id}/renew"),
            &official,
            &json!({"hours": 240}),
        )
        .await,
    )
    .await;
    assert!(renewed["expires_at"].as_str().unwrap() > device["expires_at"].as_str().unwrap());

    // Revoked: refused on its next request, here and on another server.
    let second = another_server(&app).await;
    assert_eq!(second.get("/v1/shelters", &token).await.status(), 200);
    assert_eq!(
        app.delete(&format!("/v1/shelters/{gym}/devices/{id}"), &official)
            .await
            .status(),
        204
    );
    assert_problem(
        app.get("/v1/shelters", &token).await,
        401,
        "unauthenticated",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await; // the other's cache
    assert_problem(
        second.get("/v1/shelters", &token).await,
        401,
        "unauthenticated",
    )
    .await;

    // An expired code, and an expired device, are refused; "revoke all" clears the rest.
    let offer = json_ok(
        app.post(
            &format!("/v1/shelters/{gym}/enrolments"),
            &official,
            &json!({"name": "Gym desk 3", "hours": 1}),
        )
        .await,
    )
    .await;
    let url = offer["url"].as_str().unwrap().to_owned();
    let late = json_ok(
        app.post(
            &format!("/v1/shelters/{gym}/enrolments"),
            &official,
            &json!({"name": "Gym desk 4"}),
        )
        .await,
    )
    .await;
    app.exec_sql("UPDATE device_enrolments SET expires_at = '2000-01-01T00:00:00Z' WHERE name = 'Gym desk 4'").await;
    assert_problem(
        enrol(late["url"].as_str().unwrap().to_owned()).await,
        409,
        "enrolment_invalid",
    )
    .await;
    let third = json_ok(enrol(url).await).await;
    let t3 = third["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/shelters", &t3).await.status(), 200);
    app.exec_sql(
        "UPDATE access_tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE kind = 'device'",
    )
    .await;
    app.ctx.principals.clear();
    assert_problem(app.get("/v1/shelters", &t3).await, 401, "unauthenticated").await;
    let revoked = json_ok(
        app.delete(&format!("/v1/shelters/{gym}/devices"), &official)
            .await,
    )
    .await;
    assert_eq!(revoked["revoked"], 1);

    // Only an official in reach enrols; a desk or a stranger cannot.
    let res = app
        .post(
            &format!("/v1/shelters/{gym}/enrolments"),
            &token,
            &json!({"name": "mine"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let staff = app
        .create_user("staff", json!({"shelter_ids": [gym]}))
        .await
        .1;
    assert_eq!(
        app.post(
            &format!("/v1/shelters/{gym}/enrolments"),
            &staff,
            &json!({"name": "mine"})
        )
        .await
        .status(),
        403
    );
    let actions = app.audit_actions().await;
    for a in [
        "device.enrolment_offered",
        "device.enrol",
        "device.renew",
        "device.revoke",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
}

#[tokio::test]
async fn an_admin_who_resets_an_account_cannot_use_it_as_the_second_person() {
    let app = spawn_app().await;
    // An older admin made by the operator: independent of the bootstrap admin.
    let form = safecode::service::users::NewUserForm {
        role: "admin".into(),
        name: "Night admin".into(),
        shelter_ids: vec![],
        jurisdiction: None,
        login: Some("night.admin".into()),
    };
    let made = safecode::service::users::create(
        &app.ctx,
        safecode::service::users::Creator::Operator,
        &form,
    )
    .await
    .unwrap();
    let code = made.setup.unwrap().code;
    app.finish_setup(&code, "the night admin's passphrase")
        .await;

    // The first admin proposes a rule set, then resets the night admin's sign-in and holds
    // its new setup link.
    let rules = json!({"name": "calm", "rules": [
        {"id": "elderly", "if": {"in": ["elderly", {"var": "needs"}]}, "colour": "yellow",
         "reason": {"en": "Be ready.", "zh": "请做好准备。"}}
    ]});
    let created = json_ok(app.post("/v1/rules", &app.admin_token, &rules).await).await;
    let version = created["version"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/v1/rules/{version}/activate"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let pending = json_ok(res).await;
    let code = app.reset_sign_in(&made.user_id.to_string()).await;
    let hijacked = app.finish_setup(&code, "the first admin typed this").await;
    let res = app
        .with_session(
            Method::POST,
            &format!("/v1/approvals/{}/approve", pending["id"].as_str().unwrap()),
            &hijacked.cookie,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "not_independent").await;
    assert!(app.audit_actions().await.iter().any(|a| a == "auth.reset"));
}
