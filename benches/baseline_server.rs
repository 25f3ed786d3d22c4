//! The same-run baselines for `benches/verify-load.sh`: a bare actix-web server, no middleware,
//! no database, with two handlers:
//!
//! - `GET /hello`: the hello world of the issue's figure;
//! - `POST /signature` with `{"token"}`: only checks the SC1 token's signature (base45, COSE,
//!   one Ed25519 verify) with a fixed key, the ceiling for any handler that must check one.
//!
//! `GET /token` hands out a token that key signed. Run by the load script with
//! `cargo bench --bench baseline_server` and `BASELINE_PORT`.

use actix_web::{App, HttpResponse, HttpServer, web};
use ed25519_dalek::SigningKey;
use safecode::domain::Colour;
use safecode::token::{self, Claims, Kid, KnownKey};

#[derive(serde::Deserialize)]
struct Body {
    token: String,
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

async fn hello() -> &'static str {
    "Hello world!"
}

async fn issue() -> String {
    let now = chrono::Utc::now().timestamp();
    token::encode(
        &Claims {
            issuer: "safecode".into(),
            subject: uuid::Uuid::new_v4().to_string(),
            issued_at: now,
            expires_at: now + 86_400,
            token_id: [1; 8],
            colour: Colour::Green,
            status_index: safecode::domain::StatusIndex(1),
            district: None,
            rules_version: 1,
            display: "张*明 1234".into(),
        },
        &key(),
    )
}

async fn signature(body: web::Json<Body>, known: web::Data<Vec<KnownKey>>) -> HttpResponse {
    let now = chrono::Utc::now().timestamp();
    let valid = token::verify(
        &body.token,
        |kid| known.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        now,
    )
    .is_ok();
    HttpResponse::Ok().json(serde_json::json!({ "valid": valid }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("BASELINE_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18190);
    let known = web::Data::new(vec![KnownKey {
        key: key().verifying_key(),
        revoked: false,
    }]);
    HttpServer::new(move || {
        App::new()
            .app_data(known.clone())
            .route("/hello", web::get().to(hello))
            .route("/token", web::get().to(issue))
            .route("/signature", web::post().to(signature))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
