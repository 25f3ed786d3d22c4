//! The OpenAPI document, generated from the handlers' annotations.

use super::routes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // People on /ops: a server-side session in an HttpOnly, SameSite=Strict cookie, set
        // by POST /v1/auth/sign-in; state-changing requests must come from this site.
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new(crate::http::auth::SESSION_COOKIE),
            )),
        );
        // Every route that takes a bearer token takes a session cookie as well (one extractor
        // reads both): said once here rather than in each annotation.
        use utoipa::openapi::security::SecurityRequirement;
        let names = |r: &SecurityRequirement| serde_json::to_value(r).unwrap_or_default();
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let Some(security) = op.security.as_mut() else {
                    continue;
                };
                let has = |key: &str, s: &[SecurityRequirement]| {
                    s.iter().any(|r| names(r).get(key).is_some())
                };
                if has("bearer", security) && !has("session", security) {
                    security.push(SecurityRequirement::new("session", Vec::<String>::new()));
                }
            }
        }
    }
}

/// Errors are sent as `application/problem+json`; the annotations name the body (`Problem`),
/// this says how it travels, for every 4xx and 5xx response at once.
struct ProblemContentType;

impl Modify for ProblemContentType {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    if let Some(content) = response.content.shift_remove("application/json") {
                        response
                            .content
                            .insert("application/problem+json".to_owned(), content);
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "safecode", description = "Signed safety QR codes for flood and typhoon response. Errors are RFC 9457 problem details (application/problem+json) with a stable `code`."),
    modifiers(&Bearer, &ProblemContentType),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::residents::register,
        routes::residents::me,
        routes::residents::get,
        routes::residents::update,
        routes::residents::import_csv,
        routes::residents::lookup,
        routes::residents::disputes,
        routes::residents::reclaim,
        routes::users::create,
        routes::users::disable,
        routes::users::sign_out,
        routes::sign_in::sign_in,
        routes::sign_in::session,
        routes::sign_in::sign_out,
        routes::sign_in::setup_offer,
        routes::sign_in::setup,
        routes::sign_in::reset,
        routes::sign_in::passkey_register_options,
        routes::sign_in::passkey_register,
        routes::sign_in::passkey_sign_in_options,
        routes::sign_in::passkey_sign_in,
        routes::devices::offer,
        routes::devices::enrol,
        routes::devices::list,
        routes::devices::revoke_all,
        routes::devices::revoke,
        routes::devices::renew,
        routes::audit::list,
        routes::audit::verify,
        routes::audit::verify_against,
        routes::audit::head,
        routes::districts::create,
        routes::districts::list,
        routes::zones::create,
        routes::zones::list,
        routes::zones::get,
        routes::zones::update,
        routes::zones::delete,
        routes::zones::residents,
        routes::zones::issue,
        routes::zones::preview,
        routes::zones::preview_draft,
        routes::zones::history,
        routes::live::events,
        routes::map::config,
        routes::print::cards,
        routes::zones::lift,
        routes::zones::list_orders,
        routes::zones::open_incident,
        routes::zones::incidents,
        routes::zones::all_clear,
        routes::overrides::request,
        routes::overrides::request_bulk,
        routes::overrides::clear,
        routes::overrides::approvals,
        routes::overrides::approve,
        routes::overrides::reject,
        routes::rules::list,
        routes::rules::create,
        routes::rules::preview,
        routes::rules::activate,
        routes::appeals::appeal,
        routes::appeals::mine,
        routes::appeals::list,
        routes::appeals::decide,
        routes::keys::jwks,
        routes::codes::mine,
        routes::codes::for_resident,
        routes::codes::verify,
        routes::keys::rotate,
        routes::shelters::create,
        routes::shelters::list,
        routes::shelters::open,
        routes::shelters::get,
        routes::shelters::patch,
        routes::shelters::checkin,
        routes::shelters::checkout,
        routes::shelters::occupants,
        routes::shelters::create_item,
        routes::shelters::items,
        routes::shelters::give,
        routes::shelters::distributions,
        routes::offline::status_list,
        routes::offline::bundle,
        routes::offline::sync,
        routes::offline::conflicts,
        routes::alerts::send,
        routes::alerts::list,
        routes::alerts::inbox,
        routes::alerts::acknowledge,
        routes::alerts::status,
        routes::alerts::recipients,
        routes::alerts::safe,
        routes::alerts::safe_for,
        routes::alerts::resend,
        routes::alerts::outbox,
        routes::alerts::delivered,
        routes::residents::language,
        routes::residents::my_history,
        routes::residents::delete_me,
        routes::residents::correct_mine,
        routes::residents::my_data,
        routes::residents::history,
        routes::channels::add,
        routes::channels::list,
        routes::channels::remove,
        routes::channels::door_to_door,
        routes::channels::ack_link,
        routes::channels::twilio_receipt,
        routes::channels::json_receipt,
        routes::alerts::cap,
        routes::alerts::feed,
        routes::reports::submit,
        routes::reports::list,
        routes::reports::update,
        routes::reports::photo,
    ),
    components(schemas(super::errors::Problem, crate::domain::Role)),
    tags(
        (name = "health"), (name = "residents"), (name = "users"), (name = "audit"), (name = "zones"),
        (name = "orders"), (name = "overrides"), (name = "rules"), (name = "appeals"), (name = "keys"), (name = "codes"),
        (name = "shelters"), (name = "relief"), (name = "offline"), (name = "alerts"), (name = "reports"),
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    /// The document and the router read one table: every API route is documented, and
    /// nothing is documented that the router does not serve.
    #[test]
    fn the_document_and_the_router_list_the_same_routes() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        // Served but not part of the API's contract: metrics, and the document itself.
        let outside = ["/metrics", "/v1/openapi.json"];
        let routed: std::collections::BTreeSet<(String, String)> = crate::http::ROUTES
            .iter()
            .filter(|(_, p)| !outside.contains(p))
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routed, not documented: {undocumented:?}"
        );
        assert!(unrouted.is_empty(), "documented, not routed: {unrouted:?}");
    }

    /// A handler that reads its `{id}` through an extractor of its own (the desk) declares it
    /// by hand; a path whose parameter is not declared is an invalid document.
    #[test]
    fn every_path_parameter_is_declared() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().unwrap() {
                for name in &names {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["in"] == "path" && p["name"] == *name)
                    });
                    assert!(declared, "{method} {path} does not declare {{{name}}}");
                }
            }
        }
    }
}

#[cfg(test)]
mod schemes {
    use super::*;

    /// Both ways in are described: a bearer token and the page session cookie, and every
    /// route that takes one takes the other.
    #[test]
    fn both_credentials_are_described_on_every_guarded_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["session"]["type"], "apiKey");
        assert_eq!(schemes["session"]["in"], "cookie");
        assert_eq!(schemes["session"]["name"], "sc_session");
        let mut guarded = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(sec) = op["security"].as_array() else {
                    continue;
                };
                let has = |k: &str| sec.iter().any(|r| r.get(k).is_some());
                assert_eq!(has("bearer"), has("session"), "{method} {path}");
                guarded += usize::from(has("bearer"));
            }
        }
        assert!(guarded > 50, "{guarded}");
    }
}
