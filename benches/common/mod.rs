//! Set-up shared by the benches that run the service in process on SQLite.

use safecode::config::{DatabaseUrl, LogFormat, Settings};

/// Settings for a fresh SQLite database and keys folder under `dir`.
pub fn sqlite_settings(dir: &std::path::Path) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: DatabaseUrl::Sqlite(format!("sqlite://{}", dir.join("db.sqlite").display())),
        max_db_connections: 4,
        keys_dir: dir.join("keys"),
        log_format: LogFormat::Text,
        workers: Some(1),
        import_limit_bytes: 1 << 30,
        appeal_deadline_hours: 24,
        approver_cooling_off_hours: 0,
        auth_cache_ms: 2000,
        status_list_debounce_secs: 30,
        audit_anchor_secs: 60,
        sqlite_synchronous: Default::default(),
        body_deadline_secs: 60,
        bundle_max_age_secs: 21_600,
        alerting: Default::default(),
        // Tests register hundreds from one address; tests/api/limits.rs turns them on.
        rate_limits: safecode::config::RateLimitSettings::off(),
    }
}
