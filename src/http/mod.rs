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

/// A zone of 100,000 vertices is about 4 MB of GeoJSON.
pub const ZONE_JSON_LIMIT: usize = 8 * 1024 * 1024;

fn zone_json() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(ZONE_JSON_LIMIT)
        .error_handler(errors::json_error)
}

/// Every route and the framework settings that make its errors problem details.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(JSON_LIMIT)
            .error_handler(errors::json_error),
    )
    .app_data(web::PayloadConfig::default().limit(UPLOAD_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(errors::query_error))
    .app_data(web::PathConfig::default().error_handler(errors::path_error))
    // The shelter-door paths first: routes are tried in order, and each path with a
    // parameter before a match costs a regular-expression match on the busiest requests.
    // Rate limits sit on the resources they guard: whatever spelling the router sends here.
    .service(
        web::resource("/v1/verify")
            .wrap(from_fn(rate_limit::verify))
            .route(web::post().to(routes::codes::verify)),
    )
    .service(
        web::resource("/v1/shelters/{id}/checkins")
            .wrap(from_fn(rate_limit::verify))
            .route(web::post().to(routes::shelters::checkin)),
    )
    .service(
        web::resource("/v1/shelters/{id}/checkouts")
            .wrap(from_fn(rate_limit::verify))
            .route(web::post().to(routes::shelters::checkout)),
    )
    .service(
        web::resource("/v1/shelters/{id}/distributions")
            .wrap(from_fn(rate_limit::verify))
            .route(web::get().to(routes::shelters::distributions))
            .route(web::post().to(routes::shelters::give)),
    )
    .service(web::resource("/healthz").route(web::get().to(routes::health::healthz)))
    .configure(pages::configure)
    .service(web::resource("/readyz").route(web::get().to(routes::health::readyz)))
    .service(web::resource("/metrics").route(web::get().to(metrics::metrics)))
    .service(web::resource("/v1/openapi.json").route(web::get().to(openapi_json)))
    .service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
            .url("/v1/openapi-ui.json", openapi::ApiDoc::openapi()),
    )
    // One resource per path, so that a wrong method is a 405, not a 404. The literal
    // `me` and `import` come before `{id}`.
    .service(
        web::resource("/v1/residents")
            .wrap(from_fn(rate_limit::register))
            .route(web::post().to(residents::register)),
    )
    .service(web::resource("/v1/residents/me").route(web::get().to(residents::me)))
    .service(web::resource("/v1/residents/me/alerts").route(web::get().to(routes::alerts::inbox)))
    .service(web::resource("/v1/residents/me/safe").route(web::post().to(routes::alerts::safe)))
    .service(web::resource("/v1/residents/me/code").route(web::get().to(routes::codes::mine)))
    .service(
        web::resource("/v1/residents/me/appeals")
            .route(web::get().to(appeals::mine))
            .route(web::post().to(appeals::appeal)),
    )
    .service(web::resource("/v1/residents/import").route(web::post().to(residents::import_csv)))
    .service(web::resource("/v1/residents/lookup").route(web::post().to(residents::lookup)))
    .service(web::resource("/v1/residents/disputes").route(web::get().to(residents::disputes)))
    .service(
        web::resource("/v1/residents/{id}")
            .route(web::get().to(residents::get))
            .route(web::patch().to(residents::update)),
    )
    .service(
        web::resource("/v1/residents/{id}/code").route(web::get().to(routes::codes::for_resident)),
    )
    .service(web::resource("/v1/residents/{id}/reclaim").route(web::post().to(residents::reclaim)))
    .service(
        web::resource("/v1/residents/{id}/overrides").route(web::post().to(overrides::request)),
    )
    .service(
        web::resource("/v1/residents/{id}/overrides/{oid}")
            .route(web::delete().to(overrides::clear)),
    )
    .service(web::resource("/v1/overrides/bulk").route(web::post().to(overrides::request_bulk)))
    .service(web::resource("/v1/approvals").route(web::get().to(overrides::approvals)))
    .service(web::resource("/v1/approvals/{id}/approve").route(web::post().to(overrides::approve)))
    .service(web::resource("/v1/approvals/{id}/reject").route(web::post().to(overrides::reject)))
    .service(
        web::resource("/v1/zones")
            .app_data(zone_json())
            .route(web::get().to(zones::list))
            .route(web::post().to(zones::create)),
    )
    .service(
        web::resource("/v1/zones/{id}")
            .app_data(zone_json())
            .route(web::get().to(zones::get))
            .route(web::patch().to(zones::update))
            .route(web::delete().to(zones::delete)),
    )
    .service(web::resource("/v1/zones/{id}/residents").route(web::get().to(zones::residents)))
    .service(web::resource("/v1/zones/{id}/orders").route(web::post().to(zones::issue)))
    .service(web::resource("/v1/zones/{id}/orders/preview").route(web::post().to(zones::preview)))
    .service(web::resource("/v1/orders").route(web::get().to(zones::list_orders)))
    .service(web::resource("/v1/orders/{id}/lift").route(web::post().to(zones::lift)))
    .service(
        web::resource("/v1/incidents")
            .route(web::get().to(zones::incidents))
            .route(web::post().to(zones::open_incident)),
    )
    .service(web::resource("/v1/incidents/{id}/all-clear").route(web::post().to(zones::all_clear)))
    .service(
        web::resource("/v1/rules")
            .route(web::get().to(rules::list))
            .route(web::post().to(rules::create)),
    )
    .service(web::resource("/v1/rules/preview").route(web::post().to(rules::preview)))
    .service(web::resource("/v1/rules/{version}/activate").route(web::post().to(rules::activate)))
    .service(web::resource("/v1/appeals").route(web::get().to(appeals::list)))
    .service(web::resource("/v1/appeals/{id}/decision").route(web::post().to(appeals::decide)))
    .service(web::resource("/v1/keys").route(web::get().to(routes::keys::jwks)))
    .service(
        web::resource("/v1/reports")
            .wrap(from_fn(rate_limit::report))
            .route(web::get().to(routes::reports::list))
            .route(web::post().to(routes::reports::submit)),
    )
    .service(web::resource("/v1/reports/{id}").route(web::patch().to(routes::reports::update)))
    .service(web::resource("/v1/reports/{id}/photo").route(web::get().to(routes::reports::photo)))
    .service(
        web::resource("/v1/residents/{id}/safe").route(web::post().to(routes::alerts::safe_for)),
    )
    .service(
        web::resource("/v1/alerts")
            .route(web::post().to(routes::alerts::send))
            .route(web::get().to(routes::alerts::list)),
    )
    .service(web::resource("/v1/alerts.atom").route(web::get().to(routes::alerts::feed)))
    .service(web::resource("/v1/alerts/{id}/cap").route(web::get().to(routes::alerts::cap)))
    .service(web::resource("/v1/alerts/{id}").route(web::get().to(routes::alerts::status)))
    .service(
        web::resource("/v1/alerts/{id}/ack").route(web::post().to(routes::alerts::acknowledge)),
    )
    .service(web::resource("/v1/alerts/{id}/resend").route(web::post().to(routes::alerts::resend)))
    .service(web::resource("/v1/outbox").route(web::get().to(routes::alerts::outbox)))
    .service(
        web::resource("/v1/outbox/{id}/delivered").route(web::post().to(routes::alerts::delivered)),
    )
    .service(
        web::resource("/v1/alerts/{id}/recipients")
            .route(web::get().to(routes::alerts::recipients)),
    )
    .service(web::resource("/v1/status-list").route(web::get().to(routes::offline::status_list)))
    // Base64 in JSON costs a third; gzip on the wire gives it back (docs/offline.md).
    .service(
        web::resource("/v1/verifier/bundle")
            .wrap(actix_web::middleware::Compress::default())
            .route(web::get().to(routes::offline::bundle)),
    )
    .service(
        web::resource("/v1/shelters/{id}/sync")
            .wrap(from_fn(rate_limit::sync))
            .route(web::post().to(routes::offline::sync)),
    )
    .service(web::resource("/v1/sync/conflicts").route(web::get().to(routes::offline::conflicts)))
    .service(web::resource("/v1/keys/rotate").route(web::post().to(routes::keys::rotate)))
    .service(web::resource("/v1/users").route(web::post().to(users::create)))
    .service(web::resource("/v1/users/{id}").route(web::delete().to(users::disable)))
    .service(web::resource("/v1/tokens/current").route(web::delete().to(users::sign_out)))
    .service(web::resource("/v1/audit").route(web::get().to(audit::list)))
    .service(
        web::resource("/v1/audit/verify")
            .route(web::get().to(audit::verify))
            .route(web::post().to(audit::verify_against)),
    )
    .service(web::resource("/v1/audit/head").route(web::get().to(audit::head)))
    .service(
        web::resource("/v1/shelters")
            .route(web::get().to(routes::shelters::list))
            .route(web::post().to(routes::shelters::create)),
    )
    .service(
        web::resource("/v1/shelters/{id}")
            .route(web::get().to(routes::shelters::get))
            .route(web::patch().to(routes::shelters::patch)),
    )
    .service(
        web::resource("/v1/shelters/{id}/occupants")
            .route(web::get().to(routes::shelters::occupants)),
    )
    .service(
        web::resource("/v1/relief-items")
            .route(web::get().to(routes::shelters::items))
            .route(web::post().to(routes::shelters::create_item)),
    );
}

/// Builds the application with its middleware.
pub fn app(
    ctx: web::Data<crate::service::Ctx>,
    m: web::Data<metrics::Metrics>,
    bodies: bounds::BodySettings,
    limits: web::Data<Option<rate_limit::Limits>>,
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
        .wrap(ErrorHandlers::new().default_handler(errors::to_problem))
        .wrap(from_fn(rate_limit::limit))
        .wrap(from_fn(metrics::observe))
        .configure(configure)
        .default_service(web::to(errors::not_found))
}
