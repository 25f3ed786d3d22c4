//! Settings: defaults that run out of the box, then a TOML file (`--config`), then the
//! environment (`SAFECODE_*`, `DATABASE_URL`). Every value is checked at start and a bad one
//! is named with where it came from.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.starts_with("sqlite:") {
            Ok(DatabaseUrl::Sqlite(raw.to_owned()))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(raw.to_owned()))
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(u) | DatabaseUrl::Postgres(u) => u,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// When a SQLite commit is on the disk. `Full` (the default): before the answer, so an
/// admission answered 201 survives a power cut. `Normal`: a process crash loses nothing but a
/// power cut may lose the last commits (the file stays whole): for benchmarks and disposable
/// test databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    pub max_db_connections: u32,
    pub sqlite_synchronous: SqliteSync,
    pub keys_dir: PathBuf,
    pub log_format: LogFormat,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// Largest CSV import accepted, in bytes.
    pub import_limit_bytes: usize,
    /// How long a client may take to send a request body (an import: ten times this).
    pub body_deadline_secs: u64,
    /// An appeal without a decision after this many hours is flagged overdue.
    pub appeal_deadline_hours: u32,
    /// How long a printed code (a card or pendant for someone without a phone) stays valid:
    /// a season.
    pub printed_code_days: u32,
    /// An account created by another account decides no approval for this many hours: two
    /// accounts minted by one person cannot approve each other at once (0 = no wait).
    pub approver_cooling_off_hours: u32,
    /// How long a bearer token's holder is remembered by one process, in milliseconds; a
    /// token revoked through another process still works for at most this long. 0 = off.
    pub auth_cache_ms: u64,
    /// The status list is rebuilt at most this often (seconds), when a colour may have moved.
    pub status_list_debounce_secs: u32,
    /// The audit chain's head is signed this often (seconds).
    pub audit_anchor_secs: u64,
    /// A verifier bundle (and the status list in it) is good for this long, in seconds; an
    /// offline verifier holding an older one answers "cannot verify".
    pub bundle_max_age_secs: u32,
    pub alerting: AlertingSettings,
    pub rate_limits: RateLimitSettings,
}

/// Requests per minute allowed on the endpoints worth abusing; `None` switches limits off
/// (throughput benchmarks, tests that register thousands from one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// `POST /v1/residents`, per client address.
    pub register_per_ip: u32,
    /// `POST /v1/verify` and check-ins, per bearer token (a stolen tablet cannot sweep codes).
    pub verify_per_token: u32,
    /// The same, per client address (a shelter's desks may share one).
    pub verify_per_ip: u32,
    /// `POST /v1/reports`, per bearer token.
    pub reports_per_token: u32,
    /// `POST /v1/shelters/{id}/sync` (up to 10,000 codes each), per bearer token.
    pub sync_per_token: u32,
    /// Requests refused for a bad bearer token, per client address (token guessing).
    pub auth_failures_per_ip: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            register_per_ip: 60,
            verify_per_token: 300,
            verify_per_ip: 3000,
            reports_per_token: 10,
            sync_per_token: 30,
            auth_failures_per_ip: 60,
        }
    }
}

impl RateLimitSettings {
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

/// How alerts leave the service: CAP's sender name, the address feeds link to, and the
/// webhook delivery channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertingSettings {
    /// CAP `sender`: names this service globally, e.g. `safecode@flood.example.gov.cn`.
    pub cap_sender: String,
    /// The address the public reaches the service at (`https://host`), for links in feeds;
    /// without it links are built from the request's host.
    pub public_url: Option<String>,
    pub webhook: Option<WebhookSettings>,
}

impl Default for AlertingSettings {
    fn default() -> Self {
        Self {
            cap_sender: "safecode@localhost".into(),
            public_url: None,
            webhook: None,
        }
    }
}

/// Where re-sent alerts are POSTed, signed with HMAC-SHA256 under `secret`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub url: String,
    pub secret: String,
    /// The first retry waits this long; each next one twice as long (at most 10 minutes).
    pub retry_base_ms: u64,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("retry_base_ms", &self.retry_base_ms)
            .finish()
    }
}

/// A value as it may appear in the file; everything optional so that a file may set one thing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    database_url: Option<String>,
    max_db_connections: Option<u32>,
    keys_dir: Option<String>,
    log_format: Option<String>,
    sqlite_synchronous: Option<String>,
    workers: Option<usize>,
    import_limit_mb: Option<usize>,
    body_deadline_secs: Option<u64>,
    appeal_deadline_hours: Option<u32>,
    printed_code_days: Option<u32>,
    approver_cooling_off_hours: Option<u32>,
    auth_cache_ms: Option<u64>,
    status_list_debounce_secs: Option<u32>,
    audit_anchor_secs: Option<u64>,
    bundle_max_age_secs: Option<u32>,
    cap_sender: Option<String>,
    public_url: Option<String>,
    alert_webhook_url: Option<String>,
    alert_webhook_secret: Option<String>,
    webhook_retry_base_ms: Option<u64>,
    rate_limits: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{source_name}: {reason}")]
    Value { source_name: String, reason: String },
}

/// Where one raw value came from, for the error message.
struct Raw {
    value: String,
    source_name: String,
}

fn pick(
    env: &dyn Fn(&str) -> Option<String>,
    env_names: &[&str],
    file_key: &str,
    file_value: Option<String>,
    default: &str,
) -> Raw {
    for name in env_names {
        if let Some(v) = env(name) {
            return Raw {
                value: v,
                source_name: format!("environment variable {name}"),
            };
        }
    }
    match file_value {
        Some(v) => Raw {
            value: v,
            source_name: format!("config file key `{file_key}`"),
        },
        None => Raw {
            value: default.to_owned(),
            source_name: format!("default for `{file_key}`"),
        },
    }
}

fn parse<T>(raw: Raw, f: impl FnOnce(&str) -> Result<T, String>) -> Result<T, ConfigError> {
    f(raw.value.trim()).map_err(|reason| ConfigError::Value {
        source_name: raw.source_name,
        reason,
    })
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(s: &str) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(v) if v > T::default() => Ok(v),
        _ => Err(format!("must be a positive whole number, got {s:?}")),
    }
}

/// The alerting settings (CAP sender, public address, webhook): one section of `load_from`.
fn alerting(
    f: &FileSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AlertingSettings, ConfigError> {
    let cap_sender = parse(
        pick(
            env,
            &["SAFECODE_CAP_SENDER"],
            "cap_sender",
            f.cap_sender.clone(),
            "safecode@localhost",
        ),
        |s| {
            // CAP 1.2 forbids spaces, commas and XML-reserved characters here.
            let ok = !s.is_empty()
                && s.len() <= 200
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && !",<>&\"'".contains(c));
            ok.then(|| s.to_owned()).ok_or_else(|| {
                format!(
                    "must be printable ASCII without spaces, commas, <, >, &, quotes, got {s:?}"
                )
            })
        },
    )?;
    let public_url = parse(
        pick(
            env,
            &["SAFECODE_PUBLIC_URL"],
            "public_url",
            f.public_url.clone(),
            "",
        ),
        |s| match s {
            "" => Ok(None),
            s if (s.starts_with("http://") || s.starts_with("https://"))
                && !s.contains(['"', '<', '>', ' ']) =>
            {
                Ok(Some(s.trim_end_matches('/').to_owned()))
            }
            _ => Err(format!("must be an http:// or https:// address, got {s:?}")),
        },
    )?;
    let webhook_url = parse(
        pick(
            env,
            &["SAFECODE_ALERT_WEBHOOK_URL"],
            "alert_webhook_url",
            f.alert_webhook_url.clone(),
            "",
        ),
        |s| match s {
            "" => Ok(None),
            // No TLS backend builds offline here; see README.
            s if s.starts_with("http://") && reqwest::Url::parse(s).is_ok() => {
                Ok(Some(s.to_owned()))
            }
            _ => Err(format!("must be an http:// address, got {s:?}")),
        },
    )?;
    let webhook_secret = parse(
        pick(
            env,
            &["SAFECODE_ALERT_WEBHOOK_SECRET"],
            "alert_webhook_secret",
            f.alert_webhook_secret.clone(),
            "",
        ),
        |s| match (s, &webhook_url) {
            ("", None) => Ok(None),
            (s, Some(_)) if s.len() >= 32 => Ok(Some(s.to_owned())),
            (_, Some(_)) => Err(
                "must be at least 32 characters (SAFECODE_ALERT_WEBHOOK_SECRET) when a \
                 webhook is set"
                    .into(),
            ),
            (_, None) => Err("is set but alert_webhook_url is not".into()),
        },
    )?;
    let webhook_retry_base_ms = parse(
        pick(
            env,
            &["SAFECODE_WEBHOOK_RETRY_BASE_MS"],
            "webhook_retry_base_ms",
            f.webhook_retry_base_ms.map(|v| v.to_string()),
            "2000",
        ),
        |s| {
            s.parse::<u64>()
                .ok()
                .filter(|v| (10..=600_000).contains(v))
                .ok_or_else(|| format!("must be 10 to 600000 milliseconds, got {s:?}"))
        },
    )?;
    let webhook = match (webhook_url, webhook_secret) {
        (Some(url), Some(secret)) => Some(WebhookSettings {
            url,
            secret,
            retry_base_ms: webhook_retry_base_ms,
        }),
        _ => None,
    };
    Ok(AlertingSettings {
        cap_sender,
        public_url,
        webhook,
    })
}

/// `on` (the defaults), `off`, or `key=n` pairs overriding the defaults, e.g.
/// `register_per_ip=30,verify_per_token=120`.
fn parse_rate_limits(s: &str) -> Result<RateLimitSettings, String> {
    match s {
        "on" => return Ok(RateLimitSettings::default()),
        "off" => return Ok(RateLimitSettings::off()),
        _ => {}
    }
    let mut r = RateLimitSettings::default();
    for pair in s.split(',') {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("must be on, off or key=n pairs, got {pair:?}"))?;
        let n: u32 = positive(v.trim())?;
        let slot = match k.trim() {
            "register_per_ip" => &mut r.register_per_ip,
            "verify_per_token" => &mut r.verify_per_token,
            "verify_per_ip" => &mut r.verify_per_ip,
            "reports_per_token" => &mut r.reports_per_token,
            "sync_per_token" => &mut r.sync_per_token,
            "auth_failures_per_ip" => &mut r.auth_failures_per_ip,
            other => return Err(format!("unknown limit {other:?}")),
        };
        *slot = n;
    }
    Ok(r)
}

impl Settings {
    /// Settings from the process environment and an optional file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// The documented defaults (no file, no environment) on this database and keys folder:
    /// the one starting point for tests and benchmarks, which then change what they need.
    pub fn defaults_on(database_url: DatabaseUrl, keys_dir: std::path::PathBuf) -> Self {
        let mut s = Self::load_from(None, &|_| None).expect("the defaults are valid settings");
        s.database_url = database_url;
        s.keys_dir = keys_dir;
        s
    }

    pub fn load_from(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let f: FileSettings = match file {
            None => FileSettings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.message().to_owned(),
                })?
            }
        };
        let alerting = alerting(&f, env)?;
        let num = |v: Option<u32>| v.map(|n| n.to_string());
        let usize_s = |v: Option<usize>| v.map(|n| n.to_string());

        let bind = parse(
            pick(env, &["SAFECODE_BIND"], "bind", f.bind, "127.0.0.1:8080"),
            |s| {
                s.parse::<SocketAddr>().map_err(|_| {
                    format!("must be host:port with an IP address, e.g. 127.0.0.1:8080, got {s:?}")
                })
            },
        )?;
        let database_url = parse(
            pick(
                env,
                &["DATABASE_URL", "SAFECODE_DATABASE_URL"],
                "database_url",
                f.database_url,
                "sqlite://data/safecode.db",
            ),
            DatabaseUrl::parse,
        )?;
        let max_db_connections = parse(
            pick(
                env,
                &["SAFECODE_MAX_DB_CONNECTIONS"],
                "max_db_connections",
                num(f.max_db_connections),
                "10",
            ),
            positive::<u32>,
        )?;
        let keys_dir = parse(
            pick(env, &["SAFECODE_KEYS_DIR"], "keys_dir", f.keys_dir, "keys"),
            |s| {
                let p = PathBuf::from(s);
                if s.is_empty() {
                    Err("must not be empty".into())
                } else if p.is_file() {
                    Err(format!("{s:?} is a file, not a folder"))
                } else {
                    Ok(p)
                }
            },
        )?;
        let body_deadline_secs = parse(
            pick(
                env,
                &["SAFECODE_BODY_DEADLINE_SECS"],
                "body_deadline_secs",
                f.body_deadline_secs.map(|v| v.to_string()),
                "60",
            ),
            |s| {
                s.parse::<u64>()
                    .ok()
                    .filter(|v| (1..=3600).contains(v))
                    .ok_or_else(|| format!("must be 1 to 3600 seconds, got {s:?}"))
            },
        )?;
        let sqlite_synchronous = parse(
            pick(
                env,
                &["SAFECODE_SQLITE_SYNCHRONOUS"],
                "sqlite_synchronous",
                f.sqlite_synchronous,
                "full",
            ),
            |s| match s {
                "full" => Ok(SqliteSync::Full),
                "normal" => Ok(SqliteSync::Normal),
                _ => Err(format!("must be full or normal, got {s:?}")),
            },
        )?;
        let log_format = parse(
            pick(
                env,
                &["SAFECODE_LOG_FORMAT"],
                "log_format",
                f.log_format,
                "text",
            ),
            |s| match s {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("must be text or json, got {s:?}")),
            },
        )?;
        let workers = parse(
            pick(
                env,
                &["SAFECODE_WORKERS"],
                "workers",
                usize_s(f.workers),
                "0",
            ),
            |s| match s.parse::<usize>() {
                Ok(0) => Ok(None),
                Ok(n) if n <= 256 => Ok(Some(n)),
                _ => Err(format!(
                    "must be a number from 0 (one per core) to 256, got {s:?}"
                )),
            },
        )?;
        let import_limit_mb = parse(
            pick(
                env,
                &["SAFECODE_IMPORT_LIMIT_MB"],
                "import_limit_mb",
                usize_s(f.import_limit_mb),
                "200",
            ),
            positive::<usize>,
        )?;
        let appeal_deadline_hours = parse(
            pick(
                env,
                &["SAFECODE_APPEAL_DEADLINE_HOURS"],
                "appeal_deadline_hours",
                num(f.appeal_deadline_hours),
                "24",
            ),
            positive::<u32>,
        )?;
        let printed_code_days = parse(
            pick(
                env,
                &["SAFECODE_PRINTED_CODE_DAYS"],
                "printed_code_days",
                num(f.printed_code_days),
                "180",
            ),
            positive::<u32>,
        )?;
        let approver_cooling_off_hours = parse(
            pick(
                env,
                &["SAFECODE_APPROVER_COOLING_OFF_HOURS"],
                "approver_cooling_off_hours",
                num(f.approver_cooling_off_hours),
                "24",
            ),
            |s| {
                s.parse::<u32>()
                    .map_err(|_| format!("must be a whole number, got {s:?}"))
            },
        )?;
        let auth_cache_ms = parse(
            pick(
                env,
                &["SAFECODE_AUTH_CACHE_MS"],
                "auth_cache_ms",
                f.auth_cache_ms.map(|v| v.to_string()),
                "2000",
            ),
            |s| {
                s.parse::<u64>()
                    .ok()
                    .filter(|v| *v <= 60_000)
                    .ok_or_else(|| {
                        format!("must be a whole number of milliseconds up to 60000, got {s:?}")
                    })
            },
        )?;
        let audit_anchor_secs = parse(
            pick(
                env,
                &["SAFECODE_AUDIT_ANCHOR_SECS"],
                "audit_anchor_secs",
                f.audit_anchor_secs.map(|v| v.to_string()),
                "60",
            ),
            |s| {
                s.parse::<u64>()
                    .ok()
                    .filter(|v| (1..=60).contains(v))
                    .ok_or_else(|| format!("must be 1 to 60 seconds, got {s:?}"))
            },
        )?;
        let status_list_debounce_secs = parse(
            pick(
                env,
                &["SAFECODE_STATUS_LIST_DEBOUNCE_SECS"],
                "status_list_debounce_secs",
                f.status_list_debounce_secs.map(|v| v.to_string()),
                "30",
            ),
            |s| {
                s.parse::<u32>()
                    .ok()
                    .filter(|v| (1..=3600).contains(v))
                    .ok_or_else(|| format!("must be 1 to 3600 seconds, got {s:?}"))
            },
        )?;
        let bundle_max_age_secs = parse(
            pick(
                env,
                &["SAFECODE_BUNDLE_MAX_AGE_SECS"],
                "bundle_max_age_secs",
                f.bundle_max_age_secs.map(|v| v.to_string()),
                "21600",
            ),
            |s| {
                s.parse::<u32>()
                    .ok()
                    .filter(|v| (60..=7 * 86_400).contains(v))
                    .ok_or_else(|| format!("must be 60 seconds to 7 days, got {s:?}"))
            },
        )?;
        let rate_limits = parse(
            pick(
                env,
                &["SAFECODE_RATE_LIMITS"],
                "rate_limits",
                f.rate_limits,
                "on",
            ),
            parse_rate_limits,
        )?;
        Ok(Self {
            rate_limits,
            alerting,
            bind,
            database_url,
            max_db_connections,
            sqlite_synchronous,
            keys_dir,
            log_format,
            workers,
            import_limit_bytes: import_limit_mb.saturating_mul(1024 * 1024),
            body_deadline_secs,
            appeal_deadline_hours,
            printed_code_days,
            approver_cooling_off_hours,
            auth_cache_ms,
            status_list_debounce_secs,
            audit_anchor_secs,
            bundle_max_age_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_run_out_of_the_box() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            s.database_url,
            DatabaseUrl::Sqlite("sqlite://data/safecode.db".into())
        );
        assert_eq!(s.keys_dir, PathBuf::from("keys"));
        assert_eq!(s.import_limit_bytes, 200 * 1024 * 1024);
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safecode.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\nkeys_dir = \"/srv/keys\"\n").unwrap();
        let s =
            Settings::load_from(Some(&path), &env(&[("SAFECODE_BIND", "127.0.0.1:7000")])).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:7000");
        assert_eq!(s.keys_dir, PathBuf::from("/srv/keys"));
    }

    #[test]
    fn bad_values_are_named_with_their_source() {
        let e = Settings::load_from(None, &env(&[("SAFECODE_BIND", "localhost")])).unwrap_err();
        assert!(e.to_string().contains("SAFECODE_BIND"), "{e}");
        let e = Settings::load_from(None, &env(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(e.to_string().contains("DATABASE_URL"), "{e}");
        let e =
            Settings::load_from(None, &env(&[("SAFECODE_MAX_DB_CONNECTIONS", "0")])).unwrap_err();
        assert!(e.to_string().contains("positive"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "log_format = \"xml\"\n").unwrap();
        let e = Settings::load_from(Some(&path), &env(&[])).unwrap_err();
        assert!(e.to_string().contains("`log_format`"), "{e}");
        std::fs::write(&path, "bnd = \"x\"\n").unwrap();
        let e = Settings::load_from(Some(&path), &env(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::File { .. }), "{e}");
    }

    #[test]
    fn rate_limits_are_on_by_default_and_can_be_tuned_or_switched_off() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.rate_limits, RateLimitSettings::default());
        assert!(s.rate_limits.enabled);
        let s = Settings::load_from(None, &env(&[("SAFECODE_RATE_LIMITS", "off")])).unwrap();
        assert!(!s.rate_limits.enabled);
        let tuned = (
            "SAFECODE_RATE_LIMITS",
            "register_per_ip=5, reports_per_token=2",
        );
        let s = Settings::load_from(None, &env(&[tuned])).unwrap();
        assert_eq!(
            (
                s.rate_limits.register_per_ip,
                s.rate_limits.reports_per_token
            ),
            (5, 2)
        );
        let bad = ("SAFECODE_RATE_LIMITS", "register_per_ip=0");
        assert!(Settings::load_from(None, &env(&[bad])).is_err());
        let bad = ("SAFECODE_RATE_LIMITS", "logins=3");
        assert!(Settings::load_from(None, &env(&[bad])).is_err());
    }

    #[test]
    fn a_webhook_needs_a_long_secret_which_never_prints() {
        let url = ("SAFECODE_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook");
        let e = Settings::load_from(None, &env(&[url])).unwrap_err();
        assert!(e.to_string().contains("SECRET"), "{e}");
        let short = ("SAFECODE_ALERT_WEBHOOK_SECRET", "short");
        assert!(Settings::load_from(None, &env(&[url, short])).is_err());
        let secret = (
            "SAFECODE_ALERT_WEBHOOK_SECRET",
            "k7f2-very-long-shared-secret-0123456789",
        );
        let s = Settings::load_from(None, &env(&[url, secret])).unwrap();
        let hook = s.alerting.webhook.clone().unwrap();
        assert_eq!(hook.url, "http://127.0.0.1:9/hook");
        assert!(!format!("{s:?}").contains("k7f2"), "the secret is redacted");
        let e = Settings::load_from(None, &env(&[("SAFECODE_CAP_SENDER", "a b")])).unwrap_err();
        assert!(e.to_string().contains("SAFECODE_CAP_SENDER"), "{e}");
    }
}
