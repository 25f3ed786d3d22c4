//! Every route, called with every role and with no token, against one matrix of who may do
//! what (docs/threat-model.md). A caller who may not gets 401 (no token) or 403 (wrong role),
//! whatever the id or body says — never a 404 that tells them an id exists; a caller who may
//! gets neither, and never a 5xx.
//!
//! The matrix is role x jurisdiction: every route an official may call also says what an
//! official whose district lies elsewhere gets (acts as anyone would, is refused, or is
//! answered without the people, places and entries outside their district), so a new route
//! cannot forget the district.

use crate::helpers::*;
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Nobody,
    Resident,
    Staff,
    Official,
    Admin,
    Gateway,
    /// An official whose jurisdiction lies far from every person, place and alert here.
    District,
}
use Who::*;

const EVERYONE: &[Who] = &[Nobody, Resident, Staff, Official, Admin, Gateway, District];
const SIGNED_IN: &[Who] = &[Resident, Staff, Official, Admin, Gateway, District];
const PEOPLE: &[Who] = &[Resident, Staff, Official, Admin, District];
const RESIDENT: &[Who] = &[Resident];
const DESK: &[Who] = &[Staff, Official, District];
const VERIFIERS: &[Who] = &[Staff, Official, Admin, District];
const OFFICIAL: &[Who] = &[Official, District];
const OFFICIAL_ADMIN: &[Who] = &[Official, Admin, District];
const AUDIT: &[Who] = &[Resident, Official, Admin, District];
const ADMIN: &[Who] = &[Admin];
const GATEWAY: &[Who] = &[Gateway];
/// Every account that is not a resident (a session, a machine, a desk).
const USERS: &[Who] = &[Staff, Official, Admin, Gateway, District];

/// What an official with a district elsewhere gets from a route officials may call.
#[derive(Clone, Debug)]
enum Elsewhere {
    /// The same as any official: nothing here is located (or a 404 for an id that exists
    /// nowhere).
    Acts,
    /// 403: what it names lies outside their district.
    Refused,
    /// 200, without this id (which the province-level official's answer does hold).
    Hides(String),
}

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    who: &'static [Who],
    district: Option<Elsewhere>,
}

impl Route {
    fn d(mut self, d: Elsewhere) -> Self {
        self.district = Some(d);
        self
    }
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
        district: None,
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
    // Far from everything above.
    let (_, district) = app
        .create_user(
            "official",
            json!({"jurisdiction": {"type": "Polygon", "coordinates": [rect(125.0, 40.0, 125.5, 40.5)]}}),
        )
        .await;
    let gateway = app.gateway().await;
    // Something in every list a district official must not see into: an appeal, a request
    // waiting for approval, an order.
    let res = app
        .post(
            "/v1/residents/me/appeals",
            &resident,
            &json!({"text": "I moved to my daughter's"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            &format!("/v1/residents/{resident_id}/overrides"),
            &official,
            &override_form,
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "advisory", "reason": "rain"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    use Elsewhere::{Acts, Hides, Refused};
    let hides = |what: &str| Hides(what.to_owned());

    let routes = vec![
        r("GET", "/healthz", None, EVERYONE).d(Acts),
        r("GET", "/readyz", None, EVERYONE).d(Acts),
        r("GET", "/metrics", None, EVERYONE).d(Acts),
        r("GET", "/v1/openapi.json", None, EVERYONE).d(Acts),
        r("GET", "/", None, EVERYONE).d(Acts),
        r("GET", "/scan", None, EVERYONE).d(Acts),
        r("GET", "/ops", None, EVERYONE).d(Acts),
        r("GET", "/assets/app.css", None, EVERYONE).d(Acts),
        r("GET", "/sw.js", None, EVERYONE).d(Acts),
        r("GET", "/v1/keys", None, EVERYONE).d(Acts),
        r("GET", "/v1/map", None, EVERYONE).d(Acts),
        r("GET", "/v1/shelters/open", None, EVERYONE).d(Acts),
        // Counters only, the same for every district (tests/api/console.rs).
        r("GET", "/v1/events", None, OFFICIAL).d(Acts),
        r("GET", "/v1/zones/history", None, OFFICIAL).d(hides(&zone)),
        r(
            "POST",
            "/v1/zones/preview",
            Some(feature(
                "Draft",
                json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.1, 30.1)]}),
            )),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            "/v1/print/cards",
            Some(json!({"zone": zone})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", "/v1/status-list", None, EVERYONE).d(Acts),
        r("GET", "/v1/audit/head", None, EVERYONE).d(Acts),
        r("GET", "/v1/alerts.atom", None, EVERYONE).d(Acts),
        r("GET", format!("/v1/alerts/{alert}/cap"), None, EVERYONE).d(Acts),
        r("POST", "/v1/alerts", Some(alert_form.clone()), OFFICIAL).d(Refused),
        r("GET", "/v1/alerts", None, OFFICIAL).d(hides(&alert)),
        r("GET", format!("/v1/alerts/{alert}"), None, OFFICIAL).d(Refused),
        r("GET", format!("/v1/alerts/{nobody}"), None, OFFICIAL).d(Acts),
        r("POST", format!("/v1/alerts/{alert}/ack"), None, RESIDENT),
        r(
            "GET",
            format!("/v1/alerts/{alert}/recipients"),
            None,
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            format!("/v1/alerts/{alert}/resend"),
            Some(json!({})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", "/v1/appeals", None, OFFICIAL).d(hides(&resident_id)),
        r(
            "POST",
            format!("/v1/appeals/{nobody}/decision"),
            Some(json!({"decision": "upheld", "reason": "x"})),
            OFFICIAL,
        )
        .d(Acts),
        r("GET", "/v1/approvals", None, OFFICIAL_ADMIN).d(hides(&resident_id)),
        // Admins decide rule changes (officials overrides too): the id is looked up for both.
        r(
            "POST",
            format!("/v1/approvals/{nobody}/approve"),
            None,
            OFFICIAL_ADMIN,
        )
        .d(Acts),
        r(
            "POST",
            format!("/v1/approvals/{nobody}/reject"),
            None,
            OFFICIAL_ADMIN,
        )
        .d(Acts),
        r("GET", "/v1/audit", None, AUDIT).d(hides(&resident_id)),
        r("GET", "/v1/audit/verify", None, OFFICIAL_ADMIN).d(Acts),
        r(
            "POST",
            "/v1/audit/verify",
            Some(json!({"heads": []})),
            OFFICIAL_ADMIN,
        )
        .d(Acts),
        r("GET", "/v1/incidents", None, OFFICIAL).d(Acts),
        r(
            "POST",
            "/v1/incidents",
            Some(json!({"name": "Typhoon In-fa"})),
            OFFICIAL,
        )
        .d(Acts),
        // An incident spans districts: only an official without one ends it.
        r(
            "POST",
            format!("/v1/incidents/{nobody}/all-clear"),
            None,
            OFFICIAL,
        )
        .d(Refused),
        r("GET", "/v1/orders", None, OFFICIAL).d(hides(&zone)),
        r("POST", format!("/v1/orders/{nobody}/lift"), None, OFFICIAL).d(Acts),
        r("GET", "/v1/outbox?channel=sms", None, GATEWAY),
        // A district official gets the people of the list who live in their district (here,
        // after the resident acknowledged, no one): tests/api/channels.rs holds the filter.
        r(
            "GET",
            format!("/v1/alerts/{alert}/door-to-door"),
            None,
            OFFICIAL,
        )
        .d(Acts),
        r("GET", "/v1/alert-contacts", None, OFFICIAL).d(Acts),
        // Neither a village nor an incident: refused as invalid, so nothing is set up.
        r(
            "POST",
            "/v1/alert-contacts",
            Some(json!({"kind": "dingtalk", "name": "x", "secret": "SECx",
                        "address": "https://oapi.dingtalk.com/robot/send?access_token=t"})),
            OFFICIAL,
        )
        .d(Acts),
        r("DELETE", format!("/v1/alert-contacts/{nobody}"), None, OFFICIAL).d(Acts),
        // The link is the proof: anyone may present one (this one exists nowhere: 404).
        r("POST", "/v1/ack/AAAAAAAAAAAAAAAAAAAAAA", None, EVERYONE).d(Acts),
        // Verified by the gateway's signature, not a session (no gateway here: 404).
        r("POST", "/v1/sms/receipts/twilio", None, EVERYONE).d(Acts),
        r("POST", "/v1/sms/receipts/json", None, EVERYONE).d(Acts),
        r(
            "PUT",
            "/v1/residents/me/language",
            Some(json!({"language": "en"})),
            RESIDENT,
        ),
        r("POST", "/v1/outbox/999999/delivered", None, GATEWAY),
        r(
            "POST",
            "/v1/overrides/bulk",
            Some(json!({"resident_ids": [resident_id], "colour": "yellow",
            "reason_code": "medical", "reason": "check", "expires_at": expires})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", "/v1/relief-items", None, DESK).d(Acts),
        r(
            "POST",
            "/v1/relief-items",
            Some(json!({"name": "Rice", "unit": "kg", "quota": 1, "per": "household"})),
            OFFICIAL,
        )
        .d(Acts),
        r("GET", "/v1/reports", None, OFFICIAL).d(hides(&report_id)),
        r("POST", "/v1/reports", Some(report.clone()), RESIDENT),
        r(
            "PATCH",
            format!("/v1/reports/{report_id}"),
            Some(json!({"status": "verified"})),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "PATCH",
            format!("/v1/reports/{nobody}"),
            Some(json!({"status": "verified"})),
            OFFICIAL,
        )
        .d(Acts),
        r(
            "GET",
            format!("/v1/reports/{report_id}/photo"),
            None,
            OFFICIAL,
        )
        .d(Refused),
        r("POST", "/v1/residents", Some(resident_body()), EVERYONE).d(Acts),
        // A JSON string is sent as a CSV body; its row has no location, so a district official's
        // import registers no one (tests/api/insiders.rs checks the rows).
        r(
            "POST",
            "/v1/residents/import",
            Some(json!("name,id_number\nLin Hua,110101199003070011\n")),
            OFFICIAL,
        )
        .d(Acts),
        r(
            "POST",
            "/v1/residents/lookup",
            Some(json!({"id_number": new_id_number()})),
            OFFICIAL,
        )
        .d(Acts),
        r("GET", "/v1/residents/disputes", None, OFFICIAL).d(Acts),
        // Only an id that exists nowhere: a take-back of a real one would revoke the
        // resident's token the rest of the matrix uses (tests/api/squatting.rs has the rest).
        r(
            "POST",
            format!("/v1/residents/{nobody}/reclaim"),
            Some(json!({"id_card_checked": true})),
            OFFICIAL,
        )
        .d(Acts),
        r("GET", "/v1/residents/me", None, RESIDENT),
        r("GET", "/v1/residents/me/alerts", None, RESIDENT),
        r("GET", "/v1/residents/me/history", None, RESIDENT),
        r("GET", "/v1/residents/me/data", None, RESIDENT),
        r(
            "PATCH",
            "/v1/residents/me",
            Some(json!({"address": "义桥镇新街 1 号"})),
            RESIDENT,
        ),
        r(
            "GET",
            format!("/v1/residents/{resident_id}/history"),
            None,
            OFFICIAL,
        )
        .d(Refused),
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
        )
        .d(Refused),
        r("GET", format!("/v1/residents/{nobody}"), None, OFFICIAL).d(Acts),
        r(
            "PATCH",
            format!("/v1/residents/{resident_id}"),
            Some(json!({"needs": ["elderly"], "reason": "phone call"})),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "GET",
            format!("/v1/residents/{resident_id}/code"),
            None,
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            format!("/v1/residents/{resident_id}/overrides"),
            Some(override_form.clone()),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "DELETE",
            format!("/v1/residents/{resident_id}/overrides/{nobody}"),
            None,
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            format!("/v1/residents/{resident_id}/safe"),
            Some(json!({"status": "with_relatives"})),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            format!("/v1/residents/{nobody}/safe"),
            Some(json!({"status": "with_relatives"})),
            OFFICIAL,
        )
        .d(Acts),
        r("GET", "/v1/rules", None, OFFICIAL_ADMIN).d(Acts),
        // It counts people across every district.
        r(
            "POST",
            "/v1/rules/preview",
            Some(rules.clone()),
            OFFICIAL_ADMIN,
        )
        .d(Refused),
        // A draft is harmless; activating one is for the province (and always waits).
        r("POST", "/v1/rules", Some(rules.clone()), OFFICIAL_ADMIN).d(Acts),
        r("POST", "/v1/rules/999/activate", None, OFFICIAL_ADMIN).d(Refused),
        r("GET", "/v1/shelters", None, PEOPLE).d(Acts),
        r(
            "POST",
            "/v1/shelters",
            Some(json!({"name": "Hall", "location": {"lat": 30.0, "lon": 120.0}, "capacity": 5})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", format!("/v1/shelters/{s}"), None, PEOPLE).d(Acts),
        r(
            "PATCH",
            format!("/v1/shelters/{s}"),
            Some(json!({"capacity": 12})),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "PATCH",
            format!("/v1/shelters/{nobody}"),
            Some(json!({"capacity": 12})),
            OFFICIAL,
        )
        .d(Acts),
        r(
            "POST",
            format!("/v1/shelters/{s}/checkins"),
            Some(json!({"token": code})),
            DESK,
        )
        .d(Refused),
        // Staff act only at their own shelters.
        r(
            "POST",
            format!("/v1/shelters/{nobody}/checkins"),
            Some(json!({"token": code})),
            OFFICIAL,
        )
        .d(Acts),
        r(
            "POST",
            format!("/v1/shelters/{s}/checkouts"),
            Some(json!({"token": code, "reason": "returned_home"})),
            DESK,
        )
        .d(Refused),
        r("GET", format!("/v1/shelters/{s}/distributions"), None, DESK).d(Refused),
        r(
            "POST",
            format!("/v1/shelters/{s}/distributions"),
            Some(json!({"token": code, "item_id": item, "quantity": 1})),
            DESK,
        )
        .d(Refused),
        r("GET", format!("/v1/shelters/{s}/occupants"), None, DESK).d(Refused),
        r(
            "POST",
            format!("/v1/shelters/{s}/sync"),
            Some(json!({"events": []})),
            DESK,
        )
        .d(Refused),
        r("GET", "/v1/sync/conflicts", None, OFFICIAL).d(Acts),
        r(
            "POST",
            "/v1/users",
            Some(json!({"role": "staff", "name": "Desk 9"})),
            ADMIN,
        ),
        r("DELETE", format!("/v1/users/{nobody}"), None, ADMIN),
        r("POST", format!("/v1/users/{nobody}/reset"), None, ADMIN),
        r("GET", "/v1/auth/session", None, USERS).d(Acts),
        // Passkeys need a host name; here the service is reached by address (409 past the
        // door), which is enough to see who gets through it.
        r("POST", "/v1/auth/passkeys/options", None, USERS).d(Acts),
        r("POST", "/v1/auth/passkeys", Some(json!({})), USERS).d(Acts),
        r("POST", "/v1/auth/passkey/options", None, EVERYONE).d(Acts),
        r("POST", "/v1/auth/passkey", Some(json!({})), EVERYONE).d(Acts),
        // The doors in: open to anyone, the code or link is the proof (409 when it is not).
        r(
            "POST",
            "/v1/auth/setup/offer",
            Some(json!({"setup_code": "sc_not_a_code"})),
            EVERYONE,
        )
        .d(Acts),
        r(
            "POST",
            "/v1/auth/setup",
            Some(json!({"setup_code": "sc_not_a_code", "password": "long enough words", "code": "123456"})),
            EVERYONE,
        )
        .d(Acts),
        r(
            "POST",
            "/v1/devices/enrol",
            Some(json!({"code": "sc_not_a_code"})),
            EVERYONE,
        )
        .d(Acts),
        r(
            "POST",
            format!("/v1/shelters/{shelter}/enrolments"),
            Some(json!({"name": "Desk by the door"})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", format!("/v1/shelters/{shelter}/devices"), None, OFFICIAL).d(Refused),
        r("DELETE", format!("/v1/shelters/{shelter}/devices"), None, OFFICIAL).d(Refused),
        r(
            "DELETE",
            format!("/v1/shelters/{shelter}/devices/{nobody}"),
            None,
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            format!("/v1/shelters/{shelter}/devices/{nobody}/renew"),
            Some(json!({})),
            OFFICIAL,
        )
        .d(Refused),
        // Verifying a code is not bound to a district: evacuees cross district lines.
        r("GET", "/v1/verifier/bundle", None, VERIFIERS).d(Acts),
        r(
            "POST",
            "/v1/verify",
            Some(json!({"token": code})),
            VERIFIERS,
        )
        .d(Acts),
        r("POST", "/v1/keys/rotate", None, ADMIN),
        // Districts are the province's map: drawn by admins, read by whoever verifies.
        r("GET", "/v1/districts", None, VERIFIERS).d(Acts),
        r(
            "POST",
            "/v1/districts",
            Some(json!({"type": "Feature", "properties": {"name": "Matrix district"}, "geometry": geometry})),
            ADMIN,
        ),
        r("GET", "/v1/zones", None, OFFICIAL).d(hides(&zone)),
        r(
            "POST",
            "/v1/zones",
            Some(json!({"type": "Feature", "properties": {"name": "New"}, "geometry": geometry})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", format!("/v1/zones/{zone}"), None, OFFICIAL).d(Refused),
        r("GET", format!("/v1/zones/{nobody}"), None, OFFICIAL).d(Acts),
        r(
            "PATCH",
            format!("/v1/zones/{zone}"),
            Some(json!({"properties": {"name": "Yiqiao east"}})),
            OFFICIAL,
        )
        .d(Refused),
        r("GET", format!("/v1/zones/{zone}/residents"), None, OFFICIAL).d(Refused),
        r(
            "POST",
            format!("/v1/zones/{zone}/orders/preview"),
            Some(json!({"level": "advisory"})),
            OFFICIAL,
        )
        .d(Refused),
        r(
            "POST",
            format!("/v1/zones/{zone}/orders"),
            Some(json!({"level": "advisory", "reason": "River rising"})),
            OFFICIAL,
        )
        .d(Refused),
        r("DELETE", format!("/v1/zones/{nobody}"), None, OFFICIAL).d(Acts),
    ];

    // Every route an official may call says what an official of another district gets.
    let undecided: Vec<String> = routes
        .iter()
        .filter(|r| r.who.contains(&District) && r.district.is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        undecided.is_empty(),
        "routes with no jurisdiction expectation: {undecided:?}"
    );

    // Every route the router serves is in the matrix (a new route must be added here): the
    // same table the router mounts and the OpenAPI document is checked against.
    let matches = |template: &str, path: &str| {
        let path = path.split('?').next().unwrap();
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b)
    };
    let mut missing = Vec::new();
    for (method, template) in safecode::http::ROUTES {
        let method = method.to_uppercase();
        let covered = routes
            .iter()
            .any(|r| r.method == method && matches(template, &r.path))
            // Signing in and out answer 401 for a wrong password or a spent session whoever
            // asks: tests/api/sign_in.rs and the sign-out loop below hold them.
            || (*template == "/v1/tokens/current" && method == "DELETE")
            || (*template == "/v1/auth/sign-out" && method == "POST")
            || (*template == "/v1/auth/sign-in" && method == "POST")
            // Deleting oneself ends the matrix's resident: tests/api/trail.rs holds it.
            || (*template == "/v1/residents/me" && method == "DELETE");
        if !covered {
            missing.push(format!("{method} {template}"));
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
            Gateway => Some(&gateway),
            District => Some(&district),
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
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            // The event stream stays open for minutes: its status is the answer.
            let body = if route.path == "/v1/events" {
                String::new()
            } else {
                res.text().await.unwrap_or_default()
            };
            let may = route.who.contains(&who);
            let ok = match (may, who, &route.district) {
                (true, District, Some(Elsewhere::Refused)) => status == 403,
                (true, District, Some(Elsewhere::Hides(id))) => {
                    status == 200 && !body.contains(id.as_str())
                }
                (true, _, _) => !matches!(status, 401 | 403) && status < 500,
                (false, Nobody, _) => status == 401,
                (false, _, _) => status == 403,
            };
            if !ok {
                wrong.push(format!(
                    "{} {} as {who:?}: {status} (may: {may}, district: {:?})",
                    route.method, route.path, route.district
                ));
            }
            // What a district official must not see, the province does: the check above is
            // not vacuous.
            if let (Official, Some(Elsewhere::Hides(id))) = (who, &route.district)
                && !body.contains(id.as_str())
            {
                wrong.push(format!(
                    "{} {} as Official does not show {id}: nothing to hide",
                    route.method, route.path
                ));
            }
        }
    }
    // Every signed-in holder may end their own credential, by either door, which then stops
    // working.
    for (i, &who) in SIGNED_IN.iter().enumerate() {
        let t = token_of(who).unwrap();
        let (door, res) = if i % 2 == 0 {
            (
                "DELETE /v1/tokens/current",
                app.delete("/v1/tokens/current", t).await,
            )
        } else {
            (
                "POST /v1/auth/sign-out",
                app.post("/v1/auth/sign-out", t, &json!({})).await,
            )
        };
        let status = res.status().as_u16();
        if status != 204 {
            wrong.push(format!("{door} as {who:?}: {status}"));
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
