//! safecode: signed safety QR codes for flood and typhoon response.
//!
//! The house, from its doors inwards:
//!
//! - `http`: the routes (`http::configure` mounts every one), the per-route body bounds and
//!   rate limits, authentication into a `Principal` (`http::auth`: a bearer token, or a page
//!   session cookie with its same-site check), the one mapping from service errors to
//!   problem details, the pages. Knows no SQL.
//! - `service`: one use case per function, each taking the `Ctx` and the caller: residents,
//!   codes and verification, shelters and admissions, relief, zones and orders, alerts
//!   (with their channels), approvals, the audit chain, the status list, signing in
//!   (`service::sign_in`: passwords, TOTP, sessions, setup links) and desk phones
//!   (`service::devices`). `service::authz`
//!   is the one table of who may do what; `service::idempotency` the one way a request is
//!   applied once; `ServiceError::code` the one name of each refusal. Imports no actix.
//! - `store`: all SQL, one query body for SQLite and PostgreSQL (`on_db!`/`on_tx!`);
//!   `store::facts` is the rules' read model.
//! - The pure core, no IO: `domain` (types that parse), `rules` (the JsonLogic engine),
//!   `token` (SC1, the status list, offline verification), `geo` (polygons, distances),
//!   `qr` (rendering, reading photos, the printable card), `print` (sheets of cards as a
//!   streamed PDF with an embedded font subset).
//! - Around them: `config` (settings from file and environment), `keys` (signing keys and
//!   the identity-hash key on disk), `startup` (the server and its background tasks),
//!   `telemetry`, `synthetic` (generated residents for benchmarks). The `safecode` command
//!   itself is `main.rs`, with its offline verifier and bundle fetch in `src/cli/`.

pub mod config;
pub mod domain;
pub mod geo;
pub mod http;
pub mod keys;
pub mod outbound;
pub mod print;
pub mod qr;
pub mod rules;
pub mod service;
pub mod startup;
pub mod store;
pub mod synthetic;
pub mod telemetry;
pub mod token;
