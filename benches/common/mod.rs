//! Set-up shared by the benches that run the service in process on SQLite.

use safecode::config::{DatabaseUrl, Settings};

/// Settings for a fresh SQLite database and keys folder under `dir`.
pub fn sqlite_settings(dir: &std::path::Path) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        max_db_connections: 4,
        workers: Some(1),
        import_limit_bytes: 1 << 30,
        approver_cooling_off_hours: 0,
        rate_limits: safecode::config::RateLimitSettings::off(),
        ..Settings::defaults_on(
            DatabaseUrl::Sqlite(format!("sqlite://{}", dir.join("db.sqlite").display())),
            dir.join("keys"),
        )
    }
}

/// `n` synthetic residents imported, an official, and one zone holding them all (synthetic
/// residents lie within lat 30.05–30.35, lon 120.15–120.55): the start of the benches that
/// act on a whole zone.
#[allow(dead_code)]
pub async fn zone_of_synthetic_residents(
    ctx: &safecode::service::Ctx,
    n: u64,
) -> (
    safecode::service::Principal,
    safecode::service::zones::ZoneCreated,
) {
    let mut csv = Vec::new();
    safecode::synthetic::write_csv(&mut csv, n, 3).unwrap();
    safecode::service::import::import_csv(ctx, None, std::io::Cursor::new(csv), |_| {})
        .await
        .unwrap();
    let official = official(ctx).await;
    let zone = safecode::service::zones::create(
        ctx,
        &official,
        &safecode::service::zones::ZoneFeature {
            kind: "Feature".into(),
            properties: serde_json::json!({"name": "all"}),
            geometry: serde_json::json!({"type": "Polygon", "coordinates": ALL_RING}),
        },
    )
    .await
    .unwrap();
    assert_eq!(zone.residents as u64, n);
    (official, zone)
}

/// A ring around every synthetic resident.
#[allow(dead_code)]
pub const ALL_RING: [[[f64; 2]; 5]; 1] = [[
    [120.0, 30.0],
    [120.7, 30.0],
    [120.7, 30.5],
    [120.0, 30.5],
    [120.0, 30.0],
]];

/// An official (a machine account: no sign-in), as the benches act.
#[allow(dead_code)]
pub async fn official(ctx: &safecode::service::Ctx) -> safecode::service::Principal {
    use safecode::service::users::{self, Creator, NewUserForm};
    let token = users::create(
        ctx,
        Creator::Operator,
        &NewUserForm {
            role: "official".into(),
            name: "bench".into(),
            shelter_ids: vec![],
            jurisdiction: None,
            login: None,
        },
    )
    .await
    .unwrap()
    .token
    .expect("a machine account gets a token");
    users::authenticate(ctx, &token, safecode::store::users::Carrier::Header)
        .await
        .unwrap()
}
