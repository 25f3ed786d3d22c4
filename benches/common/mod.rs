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
