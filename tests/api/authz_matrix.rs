//! Every route, called with every role and with no token, against one matrix of who may do
//! what (docs/threat-model.md). A caller who may not gets 401 (no token) or 403 (wrong role),
//! whatever the id or body says — never a 404 that tells them an id exists; a caller who may
//! gets neither, and never a 5xx.

use crate::helpers::*;
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Nobody,
    Resident,
    Staff,
    Official,
    Admin,
}
use Who::*;

const EVERYONE: &[Who] = &[Nobody, Resident, Staff, Official, Admin];
const SIGNED_IN: &[Who] = &[Resident, Staff, Official, Admin];
const RESIDENT: &[Who] = &[Resident];
const DESK: &[Who] = &[Staff, Official];
const VERIFIERS: &[Who] = &[Staff, Official, Admin];
const OFFICIAL: &[Who] = &[Official];
const OFFICIAL_ADMIN: &[Who] = &[Official, Admin];
const AUDIT: &[Who] = &[Resident, Official, Admin];
const ADMIN: &[Who] = &[Admin];

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    who: &'static [Who],
}

fn r(
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    who: &'static [Who],
) -> Route {
    Route {
        method,
        path: path.into(),
        body,
        who,
    }
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_matrix_says() {
    let app = spawn_app().await;
    let official = app.official().await;
    let admin = app.admin_token.clone();
    let zone = app.square_zone(&official, "Yiqiao").await;
    let shelter: Value = app
        .post(
            "/v1/shelters",
            &official,
            &json!({"name": "School", "location": {"lat": 30.05, "lon": 120.05}, "capacity": 10}),
        )
        .await
        .json()
        .await
        .unwrap();
    let shelter = shelter["id"].as_str().unwrap().to_owned();
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter]}))
        .await;
    let (resident_id, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let code: Value = app
        .get("/v1/residents/me/code", &resident)
        .await
        .json()
        .await
        .unwrap();
    let code = code["token"].as_str().unwrap().to_owned();
    let alert_form = json!({"zones": [zone], "headline": "Flood", "event": "Flood",
        "description": "Rising.", "instruction": "Leave.", "response_type": "Evacuate",
        "urgency": "Immediate", "severity": "Extreme", "certainty": "Observed"});
    let alert: Value = app
        .post("/v1/alerts", &official, &alert_form)
        .await
        .json()
        .await
        .unwrap();
    let alert = alert["id"].as_str().unwrap().to_owned();
    let report =
        json!({"category": "flooding", "text": "Water", "location": {"lat": 30.05, "lon": 120.05}});
    let reported: Value = app
        .post("/v1/reports", &resident, &report)
        .await
        .json()
        .await
        .unwrap();
    let report_id = reported["id"].as_str().unwrap().to_owned();
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
    let item = item["id"].as_str().unwrap().to_owned();
    // Ids that exist nowhere: a caller who may not must not learn that.
    let nobody = uuid::Uuid::new_v4();
    let rules: Value =
        serde_json::from_str(include_str!("../../fixtures/rules/default.json")).unwrap();
    let geometry = json!({"type": "Polygon", "coordinates": [rect(120.2, 30.2, 120.3, 30.3)]});
    let expires = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let override_form = json!({"colour": "yellow", "reason_code": "medical", "reason": "check",
                               "expires_at": expires});
    let s = &shelter;

    let routes = vec![
        r("GET", "/healthz", None, EVERYONE),
        r("GET", "/readyz", None, EVERYONE),
        r("GET", "/metrics", None, EVERYONE),
        r("GET", "/v1/openapi.json", None, EVERYONE),
        r("GET", "/", None, EVERYONE),
        r("GET", "/scan", None, EVERYONE),
        r("GET", "/ops", None, EVERYONE),
        r("GET", "/assets/app.css", None, EVERYONE),
        r("GET", "/sw.js", None, EVERYONE),
        r("GET", "/v1/keys", None, EVERYONE),
        r("GET", "/v1/status-list", None, EVERYONE),
        r("GET", "/v1/alerts.atom", None, EVERYONE),
        r("GET", format!("/v1/alerts/{alert}/cap"), None, EVERYONE),
        r("POST", "/v1/alerts", Some(alert_form.clone()), OFFICIAL),
        r("GET", "/v1/alerts", None, OFFICIAL),
        r("GET", format!("/v1/alerts/{alert}"), None, OFFICIAL),
        r("GET", format!("/v1/alerts/{nobody}"), None, OFFICIAL),
        r("POST", format!("/v1/alerts/{alert}/ack"), None, RESIDENT),
        r(
            "GET",
            format!("/v1/alerts/{alert}/recipients"),
            None,
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/alerts/{alert}/resend"),
            Some(json!({})),
            OFFICIAL,
        ),
        r("GET", "/v1/appeals", None, OFFICIAL),
        r(
            "POST",
            format!("/v1/appeals/{nobody}/decision"),
            Some(json!({"decision": "upheld", "reason": "x"})),
            OFFICIAL,
        ),
        r("GET", "/v1/approvals", None, OFFICIAL),
        // Admins decide rule changes (officials overrides too): the id is looked up for both.
        r(
            "POST",
            format!("/v1/approvals/{nobody}/approve"),
            None,
            OFFICIAL_ADMIN,
        ),
        r(
            "POST",
            format!("/v1/approvals/{nobody}/reject"),
            None,
            OFFICIAL_ADMIN,
        ),
        r("GET", "/v1/audit", None, AUDIT),
        r("GET", "/v1/audit/verify", None, OFFICIAL_ADMIN),
        r("GET", "/v1/incidents", None, OFFICIAL),
        r(
            "POST",
            "/v1/incidents",
            Some(json!({"name": "Typhoon In-fa"})),
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/incidents/{nobody}/all-clear"),
            None,
            OFFICIAL,
        ),
        r("GET", "/v1/orders", None, OFFICIAL),
        r("POST", format!("/v1/orders/{nobody}/lift"), None, OFFICIAL),
        r("GET", "/v1/outbox?channel=sms", None, ADMIN),
        r("POST", "/v1/outbox/999999/delivered", None, ADMIN),
        r(
            "POST",
            "/v1/overrides/bulk",
            Some(json!({"resident_ids": [resident_id], "colour": "yellow",
            "reason_code": "medical", "reason": "check", "expires_at": expires})),
            OFFICIAL,
        ),
        r("GET", "/v1/relief-items", None, DESK),
        r(
            "POST",
            "/v1/relief-items",
            Some(json!({"name": "Rice", "unit": "kg", "quota": 1, "per": "household"})),
            OFFICIAL,
        ),
        r("GET", "/v1/reports", None, OFFICIAL),
        r("POST", "/v1/reports", Some(report.clone()), RESIDENT),
        r(
            "PATCH",
            format!("/v1/reports/{report_id}"),
            Some(json!({"status": "verified"})),
            OFFICIAL,
        ),
        r(
            "PATCH",
            format!("/v1/reports/{nobody}"),
            Some(json!({"status": "verified"})),
            OFFICIAL,
        ),
        r(
            "GET",
            format!("/v1/reports/{report_id}/photo"),
            None,
            OFFICIAL,
        ),
        r("POST", "/v1/residents", Some(resident_body()), EVERYONE),
        // A JSON string is sent as a CSV body.
        r(
            "POST",
            "/v1/residents/import",
            Some(json!("name,id_number\nLin Hua,110101199003070011\n")),
            OFFICIAL,
        ),
        r("GET", "/v1/residents/me", None, RESIDENT),
        r("GET", "/v1/residents/me/alerts", None, RESIDENT),
        r("GET", "/v1/residents/me/appeals", None, RESIDENT),
        r(
            "POST",
            "/v1/residents/me/appeals",
            Some(json!({"text": "I am on the 4th floor"})),
            RESIDENT,
        ),
        r("GET", "/v1/residents/me/code", None, RESIDENT),
        r(
            "POST",
            "/v1/residents/me/safe",
            Some(json!({"status": "at_home"})),
            RESIDENT,
        ),
        r(
            "GET",
            format!("/v1/residents/{resident_id}"),
            None,
            OFFICIAL,
        ),
        r("GET", format!("/v1/residents/{nobody}"), None, OFFICIAL),
        r(
            "PATCH",
            format!("/v1/residents/{resident_id}"),
            Some(json!({"needs": ["elderly"], "reason": "phone call"})),
            OFFICIAL,
        ),
        r(
            "GET",
            format!("/v1/residents/{resident_id}/code"),
            None,
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/residents/{resident_id}/overrides"),
            Some(override_form.clone()),
            OFFICIAL,
        ),
        r(
            "DELETE",
            format!("/v1/residents/{resident_id}/overrides/{nobody}"),
            None,
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/residents/{nobody}/safe"),
            Some(json!({"status": "with_relatives"})),
            OFFICIAL,
        ),
        r("GET", "/v1/rules", None, OFFICIAL_ADMIN),
        r(
            "POST",
            "/v1/rules/preview",
            Some(rules.clone()),
            OFFICIAL_ADMIN,
        ),
        r("POST", "/v1/rules", Some(rules.clone()), OFFICIAL_ADMIN),
        r("POST", "/v1/rules/999/activate", None, OFFICIAL_ADMIN),
        r("GET", "/v1/shelters", None, SIGNED_IN),
        r(
            "POST",
            "/v1/shelters",
            Some(json!({"name": "Hall", "location": {"lat": 30.0, "lon": 120.0}, "capacity": 5})),
            OFFICIAL,
        ),
        r("GET", format!("/v1/shelters/{s}"), None, SIGNED_IN),
        r(
            "PATCH",
            format!("/v1/shelters/{s}"),
            Some(json!({"capacity": 12})),
            OFFICIAL,
        ),
        r(
            "PATCH",
            format!("/v1/shelters/{nobody}"),
            Some(json!({"capacity": 12})),
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/shelters/{s}/checkins"),
            Some(json!({"token": code})),
            DESK,
        ),
        // Staff act only at their own shelters.
        r(
            "POST",
            format!("/v1/shelters/{nobody}/checkins"),
            Some(json!({"token": code})),
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/shelters/{s}/checkouts"),
            Some(json!({"token": code, "reason": "returned_home"})),
            DESK,
        ),
        r("GET", format!("/v1/shelters/{s}/distributions"), None, DESK),
        r(
            "POST",
            format!("/v1/shelters/{s}/distributions"),
            Some(json!({"token": code, "item_id": item, "quantity": 1})),
            DESK,
        ),
        r("GET", format!("/v1/shelters/{s}/occupants"), None, DESK),
        r(
            "POST",
            format!("/v1/shelters/{s}/sync"),
            Some(json!({"events": []})),
            DESK,
        ),
        r("GET", "/v1/sync/conflicts", None, OFFICIAL),
        r(
            "POST",
            "/v1/users",
            Some(json!({"role": "staff", "name": "Desk 9"})),
            ADMIN,
        ),
        r("DELETE", format!("/v1/users/{nobody}"), None, ADMIN),
        r("GET", "/v1/verifier/bundle", None, VERIFIERS),
        r(
            "POST",
            "/v1/verify",
            Some(json!({"token": code})),
            VERIFIERS,
        ),
        r("POST", "/v1/keys/rotate", None, ADMIN),
        r("GET", "/v1/zones", None, OFFICIAL),
        r(
            "POST",
            "/v1/zones",
            Some(json!({"type": "Feature", "properties": {"name": "New"}, "geometry": geometry})),
            OFFICIAL,
        ),
        r("GET", format!("/v1/zones/{zone}"), None, OFFICIAL),
        r("GET", format!("/v1/zones/{nobody}"), None, OFFICIAL),
        r(
            "PATCH",
            format!("/v1/zones/{zone}"),
            Some(json!({"properties": {"name": "Yiqiao east"}})),
            OFFICIAL,
        ),
        r("GET", format!("/v1/zones/{zone}/residents"), None, OFFICIAL),
        r(
            "POST",
            format!("/v1/zones/{zone}/orders/preview"),
            Some(json!({"level": "advisory"})),
            OFFICIAL,
        ),
        r(
            "POST",
            format!("/v1/zones/{zone}/orders"),
            Some(json!({"level": "advisory", "reason": "River rising"})),
            OFFICIAL,
        ),
        r("DELETE", format!("/v1/zones/{nobody}"), None, OFFICIAL),
    ];

    // Every operation the API publishes is in the matrix (a new route must be added here).
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let matches = |template: &str, path: &str| {
        let path = path.split('?').next().unwrap();
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b)
    };
    let mut missing = Vec::new();
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let covered = routes
                .iter()
                .any(|r| r.method == method && matches(template, &r.path))
                || (template == "/v1/tokens/current" && method == "DELETE");
            if !covered {
                missing.push(format!("{method} {template}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the matrix: {missing:?}"
    );

    let token_of = |who: Who| -> Option<&str> {
        match who {
            Nobody => None,
            Resident => Some(&resident),
            Staff => Some(&staff),
            Official => Some(&official),
            Admin => Some(&admin),
        }
    };
    let mut wrong = Vec::new();
    for route in &routes {
        for &who in EVERYONE {
            let mut req = app
                .client
                .request(route.method.parse().unwrap(), app.url(&route.path));
            if let Some(t) = token_of(who) {
                req = req.bearer_auth(t);
            }
            match &route.body {
                Some(Value::String(csv)) => {
                    req = req.header("Content-Type", "text/csv").body(csv.clone());
                }
                Some(b) => req = req.json(b),
                None => {}
            }
            let status = req.send().await.unwrap().status().as_u16();
            let may = route.who.contains(&who);
            let ok = match (may, who) {
                (true, _) => !matches!(status, 401 | 403) && status < 500,
                (false, Nobody) => status == 401,
                (false, _) => status == 403,
            };
            if !ok {
                wrong.push(format!(
                    "{} {} as {who:?}: {status} (may: {may})",
                    route.method, route.path
                ));
            }
        }
    }
    // Signing out: every signed-in holder may end their own token, which then stops working.
    for &who in SIGNED_IN {
        let t = token_of(who).unwrap();
        let status = app.delete("/v1/tokens/current", t).await.status().as_u16();
        if status != 204 {
            wrong.push(format!("DELETE /v1/tokens/current as {who:?}: {status}"));
        }
        let after = app.get("/v1/shelters", t).await.status().as_u16();
        if after != 401 {
            wrong.push(format!("a signed-out {who:?} token still works: {after}"));
        }
    }
    let status = app
        .client
        .delete(app.url("/v1/tokens/current"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    if status != 401 {
        wrong.push(format!("DELETE /v1/tokens/current with no token: {status}"));
    }
    assert!(
        wrong.is_empty(),
        "{} answers break the matrix:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
