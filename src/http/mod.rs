//! actix-web: routes, the auth extractor, problem details, metrics, OpenAPI. No SQL here.

pub mod auth;
pub mod body;
pub mod bounds;
pub mod cap;
pub mod csv_export;
pub mod desk;
pub mod errors;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod routes;
pub mod scan;
pub mod tls;

use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{HttpResponse, web};
use routes::{appeals, audit, overrides, residents, rules, users, zones};
use utoipa::OpenApi;

/// JSON bodies are small; uploads (photos) and imports have their own limits.
pub const JSON_LIMIT: usize = 1024 * 1024;
pub const UPLOAD_LIMIT: usize = 10 * 1024 * 1024;

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi::ApiDoc::openapi())
}

/// The address people reach this service at, for links it hands out (a feed, a sign-in
/// code): the configured public URL, else what this request was addressed to.
pub fn public_base(ctx: &crate::service::Ctx, req: &actix_web::HttpRequest) -> String {
    match &ctx.alerting.public_url {
        Some(u) => u.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// A zone of 100,000 vertices is about 4 MB of GeoJSON.
pub const ZONE_JSON_LIMIT: usize = 8 * 1024 * 1024;

fn zone_json() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(ZONE_JSON_LIMIT)
        .error_handler(errors::json_error)
}

/// Declares every API route once: `mount` registers them with their per-resource settings
/// (rate limits, body configs) and `ROUTES` lists them as (method, path pattern), which the
/// OpenAPI check and the authorisation matrix test read, so that no route escapes either.
macro_rules! api_routes {
    ($( $path:literal $( . $m:ident ( $($a:tt)* ) )* => [ $( $method:ident : $handler:path ),+ $(,)? ] ),* $(,)?) => {
        fn mount(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( .$m($($a)*) )*
                        $( .route(web::$method().to($handler)) )+
                );
            )*
        }

        /// Every API route as (method in lower case, path pattern), in the order tried.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path) ),+ ),* ];
    };
}

api_routes! {
    // The shelter-door paths first: routes are tried in order, and each path with a
    // parameter before a match costs a regular-expression match on the busiest requests.
    // Rate limits sit on the resources they guard: whatever spelling the router sends here.
    "/v1/verify".wrap(from_fn(rate_limit::verify)) => [post: routes::codes::verify],
    "/v1/shelters/{id}/checkins".wrap(from_fn(rate_limit::verify)) => [post: routes::shelters::checkin],
    "/v1/shelters/{id}/checkouts".wrap(from_fn(rate_limit::verify)) => [post: routes::shelters::checkout],
    "/v1/shelters/{id}/distributions".wrap(from_fn(rate_limit::verify)) => [get: routes::shelters::distributions, post: routes::shelters::give],
    "/healthz" => [get: routes::health::healthz],
    "/readyz" => [get: routes::health::readyz],
    "/metrics" => [get: metrics::metrics],
    "/v1/openapi.json" => [get: openapi_json],
    // One resource per path, so that a wrong method is a 405, not a 404. The literal
    // `me`, `import`, `lookup` and `disputes` come before `{id}`.
    "/v1/residents".wrap(from_fn(rate_limit::register)) => [post: residents::register],
    "/v1/residents/me" => [get: residents::me, patch: residents::correct_mine, delete: residents::delete_me],
    "/v1/residents/me/alerts" => [get: routes::alerts::inbox],
    "/v1/residents/me/language" => [put: residents::language],
    "/v1/residents/me/history" => [get: residents::my_history],
    "/v1/residents/me/data" => [get: residents::my_data],
    "/v1/residents/me/safe" => [post: routes::alerts::safe],
    "/v1/residents/me/code" => [get: routes::codes::mine],
    "/v1/residents/me/appeals" => [get: appeals::mine, post: appeals::appeal],
    "/v1/residents/import" => [post: residents::import_csv],
    "/v1/residents/lookup" => [post: residents::lookup],
    "/v1/residents/disputes" => [get: residents::disputes],
    "/v1/residents/{id}" => [get: residents::get, patch: residents::update],
    "/v1/residents/{id}/code" => [get: routes::codes::for_resident],
    "/v1/residents/{id}/history" => [get: residents::history],
    "/v1/residents/{id}/reclaim" => [post: residents::reclaim],
    "/v1/residents/{id}/overrides" => [post: overrides::request],
    "/v1/residents/{id}/overrides/{oid}" => [delete: overrides::clear],
    "/v1/overrides/bulk" => [post: overrides::request_bulk],
    "/v1/approvals" => [get: overrides::approvals],
    "/v1/approvals/{id}/approve" => [post: overrides::approve],
    "/v1/approvals/{id}/reject" => [post: overrides::reject],
    "/v1/zones".app_data(zone_json()) => [get: zones::list, post: zones::create],
    "/v1/zones/preview".app_data(zone_json()) => [post: zones::preview_draft],
    "/v1/zones/history" => [get: zones::history],
    "/v1/zones/{id}".app_data(zone_json()) => [get: zones::get, patch: zones::update, delete: zones::delete],
    "/v1/zones/{id}/residents" => [get: zones::residents],
    "/v1/zones/{id}/orders" => [post: zones::issue],
    "/v1/zones/{id}/orders/preview" => [post: zones::preview],
    "/v1/orders" => [get: zones::list_orders],
    "/v1/orders/{id}/lift" => [post: zones::lift],
    "/v1/incidents" => [get: zones::incidents, post: zones::open_incident],
    "/v1/incidents/{id}/all-clear" => [post: zones::all_clear],
    "/v1/rules" => [get: rules::list, post: rules::create],
    "/v1/rules/preview" => [post: rules::preview],
    "/v1/rules/{version}/activate" => [post: rules::activate],
    "/v1/appeals" => [get: appeals::list],
    "/v1/appeals/{id}/decision" => [post: appeals::decide],
    "/v1/keys" => [get: routes::keys::jwks],
    "/v1/reports".wrap(from_fn(rate_limit::report)) => [get: routes::reports::list, post: routes::reports::submit],
    "/v1/reports/{id}" => [patch: routes::reports::update],
    "/v1/reports/{id}/photo" => [get: routes::reports::photo],
    "/v1/residents/{id}/safe" => [post: routes::alerts::safe_for],
    "/v1/alerts" => [post: routes::alerts::send, get: routes::alerts::list],
    "/v1/alerts.atom" => [get: routes::alerts::feed],
    "/v1/alerts/{id}/cap" => [get: routes::alerts::cap],
    "/v1/alerts/{id}" => [get: routes::alerts::status],
    "/v1/alerts/{id}/ack" => [post: routes::alerts::acknowledge],
    "/v1/alerts/{id}/resend" => [post: routes::alerts::resend],
    "/v1/outbox" => [get: routes::alerts::outbox],
    "/v1/outbox/{id}/delivered" => [post: routes::alerts::delivered],
    "/v1/alerts/{id}/recipients" => [get: routes::alerts::recipients],
    "/v1/alerts/{id}/door-to-door" => [get: routes::channels::door_to_door],
    "/v1/alert-contacts" => [get: routes::channels::list, post: routes::channels::add],
    "/v1/alert-contacts/{id}" => [delete: routes::channels::remove],
    // 128-bit tokens: the generous scan limit, so that a village behind one carrier NAT
    // tapping its links at once is not refused.
    "/v1/ack/{token}".wrap(from_fn(rate_limit::verify)) => [post: routes::channels::ack_link],
    "/v1/sms/receipts/twilio" => [post: routes::channels::twilio_receipt],
    "/v1/sms/receipts/json" => [post: routes::channels::json_receipt],
    "/v1/status-list" => [get: routes::offline::status_list],
    "/v1/districts".app_data(zone_json()) => [get: routes::districts::list, post: routes::districts::create],
    // Base64 in JSON costs a third; gzip on the wire gives it back (docs/offline.md).
    "/v1/verifier/bundle".wrap(actix_web::middleware::Compress::default()) => [get: routes::offline::bundle],
    "/v1/shelters/{id}/sync".wrap(from_fn(rate_limit::sync)) => [post: routes::offline::sync],
    "/v1/sync/conflicts" => [get: routes::offline::conflicts],
    "/v1/keys/rotate" => [post: routes::keys::rotate],
    "/v1/users" => [post: users::create],
    "/v1/users/{id}" => [delete: users::disable],
    "/v1/tokens/current" => [delete: users::sign_out],
    "/v1/users/{id}/reset" => [post: routes::sign_in::reset],
    "/v1/auth/sign-in".wrap(from_fn(rate_limit::sign_in)) => [post: routes::sign_in::sign_in],
    "/v1/auth/session" => [get: routes::sign_in::session],
    "/v1/auth/sign-out" => [post: routes::sign_in::sign_out],
    "/v1/auth/setup/offer".wrap(from_fn(rate_limit::sign_in)) => [post: routes::sign_in::setup_offer],
    "/v1/auth/setup".wrap(from_fn(rate_limit::sign_in)) => [post: routes::sign_in::setup],
    "/v1/auth/passkeys/options" => [post: routes::sign_in::passkey_register_options],
    "/v1/auth/passkeys" => [post: routes::sign_in::passkey_register],
    "/v1/auth/passkey/options".wrap(from_fn(rate_limit::sign_in)) => [post: routes::sign_in::passkey_sign_in_options],
    "/v1/auth/passkey".wrap(from_fn(rate_limit::sign_in)) => [post: routes::sign_in::passkey_sign_in],
    "/v1/devices/enrol".wrap(from_fn(rate_limit::sign_in)) => [post: routes::devices::enrol],
    "/v1/shelters/{id}/enrolments" => [post: routes::devices::offer],
    "/v1/shelters/{id}/devices" => [get: routes::devices::list, delete: routes::devices::revoke_all],
    "/v1/shelters/{id}/devices/{device}" => [delete: routes::devices::revoke],
    "/v1/shelters/{id}/devices/{device}/renew" => [post: routes::devices::renew],
    "/v1/events" => [get: routes::live::events],
    "/v1/map" => [get: routes::map::config],
    "/v1/print/cards" => [post: routes::print::cards],
    "/v1/audit" => [get: audit::list],
    "/v1/audit/verify" => [get: audit::verify, post: audit::verify_against],
    "/v1/audit/head" => [get: audit::head],
    "/v1/shelters" => [get: routes::shelters::list, post: routes::shelters::create],
    "/v1/shelters/open" => [get: routes::shelters::open],
    "/v1/shelters/{id}" => [get: routes::shelters::get, patch: routes::shelters::patch],
    "/v1/shelters/{id}/occupants" => [get: routes::shelters::occupants],
    "/v1/relief-items" => [get: routes::shelters::items, post: routes::shelters::create_item],
}

/// Every route and the framework settings that make its errors problem details: the API
/// table above, the pages, and the interactive documentation.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(JSON_LIMIT)
            .error_handler(errors::json_error),
    )
    .app_data(web::PayloadConfig::default().limit(UPLOAD_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(errors::query_error))
    .app_data(web::PathConfig::default().error_handler(errors::path_error));
    mount(cfg);
    cfg.route(routes::map::LOCAL_TILES, web::get().to(routes::map::tile));
    cfg.configure(pages::configure).service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
            .url("/v1/openapi-ui.json", openapi::ApiDoc::openapi()),
    );
}

/// Builds the application with its middleware.
pub fn app(
    ctx: web::Data<crate::service::Ctx>,
    m: web::Data<metrics::Metrics>,
    bodies: bounds::BodySettings,
    limits: web::Data<Option<rate_limit::Limits>>,
    https: bool,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(ctx)
        .app_data(m)
        .app_data(web::Data::new(routes::residents::ImportLimit(
            bodies.import_bytes,
        )))
        .app_data(web::Data::new(bodies))
        .app_data(limits)
        .wrap(from_fn(bounds::bound))
        // Served over HTTPS by this process: browsers are told to never come back in plain.
        .wrap(actix_web::middleware::Condition::new(
            https,
            actix_web::middleware::DefaultHeaders::new().add((
                actix_web::http::header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000",
            )),
        ))
        .wrap(ErrorHandlers::new().default_handler(errors::to_problem))
        .wrap(from_fn(rate_limit::limit))
        .wrap(from_fn(metrics::observe))
        .configure(configure)
        .default_service(web::to(errors::not_found))
}
