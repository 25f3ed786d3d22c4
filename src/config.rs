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
    /// A streaming replica of `database_url` (PostgreSQL only) for the reads that may be a
    /// moment old: scans' facts, status lists, bundles. Used only while its lag, measured
    /// against the primary, is under `read_max_lag_ms`.
    pub database_read_url: Option<String>,
    /// The most a replica may lag before reads go back to the primary (milliseconds).
    pub read_max_lag_ms: u32,
    /// The proxies (addresses or CIDRs) whose `X-Forwarded-For` tells the client's address:
    /// a load balancer in front of several servers. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
    /// Sign-in sessions of `/ops`: ended after this many minutes without a request, and after
    /// this many hours whatever happens; a desk phone's credential lasts `device_hours`
    /// unless an official renews it.
    pub sessions: SessionSettings,
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
    /// Scans arriving together are checked as one batch (`service::scans`); off checks each
    /// alone (for a before/after in one benchmark run).
    pub scan_batch: bool,
    /// Residents whose scanned facts a server keeps (per generation, two generations) on
    /// PostgreSQL, kept true by the change feed (`service::fresh_facts`); 0 keeps none.
    pub facts_cache: usize,
    pub map: MapSettings,
    /// A console's event stream ends after this many seconds and the browser opens a new one,
    /// authenticating afresh.
    pub live_stream_secs: u32,
    /// HTTPS on this server's own port, when set.
    pub tls: Option<TlsSettings>,
    /// Requests to other servers: the extra CA trusted, and whether plain HTTP to loopback is
    /// allowed (test receivers).
    pub outbound: crate::outbound::OutboundSettings,
    /// How long an incident's personal data outlives its all-clear, and the season's end.
    pub retention: RetentionSettings,
}

/// Privacy over a season: an incident's personal data is anonymised `after_all_clear_days`
/// after its all-clear; residents registered for the season are erased after `season_end`
/// (when set) unless an incident is still open or within its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    pub after_all_clear_days: u32,
    pub season_end: Option<chrono::NaiveDate>,
    /// How often a server looks for work (seconds).
    pub check_secs: u64,
    /// Rows per statement, and a pause between statements (ms): anonymising a large incident
    /// leaves the database to live traffic in between.
    pub batch: i64,
    pub pause_ms: u64,
}

/// The server's certificate chain and key (PEM files), read again when they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The console's map: where base tiles come from, and how often each zone's counts are kept
/// for its chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSettings {
    /// An MBTiles file of raster tiles that safecode serves itself at `/tiles/{z}/{x}/{y}`
    /// (deployments with no internet).
    pub tiles: Option<PathBuf>,
    /// A tile server's URL template (`https://tiles.example/{z}/{x}/{y}.png`); the file wins
    /// when both are set.
    pub tile_url: Option<String>,
    /// Shown in the map's corner: most tile licences require it.
    pub tile_attribution: String,
    /// Each zone's counts are kept this often (seconds) for the console's charts.
    pub zone_sample_secs: u32,
}

impl MapSettings {
    /// The origin the pages may load tile images from, when tiles come from elsewhere.
    pub fn tile_origin(&self) -> Option<String> {
        if self.tiles.is_some() {
            return None;
        }
        let url = reqwest::Url::parse(&self.tile_url.as_ref()?.replace(['{', '}'], "")).ok()?;
        Some(url.origin().ascii_serialization())
    }
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
    /// Sign-in attempts, setup links and desk enrolment codes tried, per client address
    /// (password guessing; the account's own lock-out is separate and short).
    pub sign_in_per_ip: u32,
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
            sign_in_per_ip: 30,
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
    /// The SMS gateway the server sends through itself; without one, SMS wait in the outbox
    /// for a gateway to drain (`GET /v1/outbox`).
    pub sms: Option<SmsGateway>,
    /// The mail server officials' escalations go out through.
    pub smtp: Option<SmtpSettings>,
    /// The hosts DingTalk robot addresses may name: officials type these addresses, and the
    /// server must not be made to POST wherever they say.
    pub dingtalk_hosts: Vec<String>,
    /// How long a one-tap acknowledgement link works.
    pub ack_link_hours: u32,
    /// The first retry of any channel waits this long; each next one twice as long.
    pub retry_base_ms: u64,
}

impl Default for AlertingSettings {
    fn default() -> Self {
        Self {
            cap_sender: "safecode@localhost".into(),
            public_url: None,
            webhook: None,
            sms: None,
            smtp: None,
            dingtalk_hosts: vec!["oapi.dingtalk.com".into()],
            ack_link_hours: 72,
            retry_base_ms: 2000,
        }
    }
}

/// An HTTP SMS gateway and the format it speaks.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsGateway {
    pub url: String,
    pub format: SmsFormat,
    /// The sender number or name the gateway sends from.
    pub from: String,
}

#[derive(Clone, PartialEq, Eq)]
pub enum SmsFormat {
    /// Twilio's Messages API: form fields, HTTP Basic with the account SID and auth token,
    /// status callbacks signed `X-Twilio-Signature` with the auth token.
    Twilio { account: String, token: String },
    /// A JSON body built from a template whose string values `{to}`, `{text}`, `{ref}`,
    /// `{from}` are replaced; the message id read at a JSON pointer of the answer; receipts
    /// signed like the webhook (`Safecode-Signature`) with `receipt_secret`.
    Json {
        template: serde_json::Value,
        id_pointer: String,
        token: Option<String>,
        receipt_secret: String,
    },
}

impl SmsFormat {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Twilio { .. } => "twilio",
            Self::Json { .. } => "json",
        }
    }
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("url", &self.url)
            .field("format", &self.format.name())
            .field("credentials", &"<redacted>")
            .finish()
    }
}

/// A mail server reached with STARTTLS (never in the clear).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("password", &"<redacted>")
            .finish()
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    pub idle_minutes: u32,
    pub lifetime_hours: u32,
    pub device_hours: u32,
}

/// A value as it may appear in the file; everything optional so that a file may set one thing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    database_url: Option<String>,
    database_read_url: Option<String>,
    read_max_lag_ms: Option<u32>,
    trusted_proxies: Option<String>,
    max_db_connections: Option<u32>,
    keys_dir: Option<String>,
    log_format: Option<String>,
    sqlite_synchronous: Option<String>,
    workers: Option<usize>,
    import_limit_mb: Option<usize>,
    body_deadline_secs: Option<u64>,
    appeal_deadline_hours: Option<u32>,
    printed_code_days: Option<u32>,
    session_idle_minutes: Option<u32>,
    session_hours: Option<u32>,
    device_hours: Option<u32>,
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
    sms_gateway: Option<String>,
    sms_gateway_url: Option<String>,
    sms_gateway_account: Option<String>,
    sms_gateway_token: Option<String>,
    sms_gateway_from: Option<String>,
    sms_gateway_template: Option<String>,
    sms_gateway_id_pointer: Option<String>,
    sms_receipt_secret: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    smtp_from: Option<String>,
    dingtalk_hosts: Option<String>,
    ack_link_hours: Option<u32>,
    rate_limits: Option<String>,
    scan_batch: Option<String>,
    facts_cache: Option<String>,
    tiles: Option<String>,
    tile_url: Option<String>,
    tile_attribution: Option<String>,
    zone_sample_secs: Option<u32>,
    live_stream_secs: Option<u32>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    extra_ca_file: Option<String>,
    allow_plain_http: Option<String>,
    retention_days: Option<u32>,
    season_end: Option<String>,
    retention_check_secs: Option<u64>,
    retention_batch: Option<i64>,
    retention_pause_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{source_name}: {reason}")]
    Value { source_name: String, reason: String },
}

/// Where settings come from: the environment (`SAFECODE_` and the key in capitals) over the file
/// over the documented default. Each setting is one call naming its key, its default and its
/// parser, so a bad value is reported with the exact place it came from.
struct Sources<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Sources<'_> {
    fn get<T>(
        &self,
        key: &str,
        file_value: Option<impl ToString>,
        default: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let env_name = format!("SAFECODE_{}", key.to_ascii_uppercase());
        let aliases = if key == "database_url" {
            // The name every sqlx tool reads comes first.
            vec!["DATABASE_URL".to_owned(), env_name]
        } else {
            vec![env_name]
        };
        let (value, source_name) = match aliases.iter().find_map(|n| (self.env)(n).map(|v| (v, n)))
        {
            Some((v, name)) => (v, format!("environment variable {name}")),
            None => match file_value {
                Some(v) => (v.to_string(), format!("config file key `{key}`")),
                None => (default.to_owned(), format!("default for `{key}`")),
            },
        };
        f(value.trim()).map_err(|reason| ConfigError::Value {
            source_name,
            reason,
        })
    }
}

impl Sources<'_> {
    /// A text setting that may be absent (empty means absent).
    fn optional_text(
        &self,
        key: &str,
        file: Option<&String>,
    ) -> Result<Option<String>, ConfigError> {
        self.get(key, file, "", |s| {
            Ok::<_, String>((!s.is_empty()).then(|| s.to_owned()))
        })
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(s: &str) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(v) if v > T::default() => Ok(v),
        _ => Err(format!("must be a positive whole number, got {s:?}")),
    }
}

/// A whole number in `lo..=hi`; `what` says the range in words for the error ("1 to 60 seconds").
fn within<T: std::str::FromStr + PartialOrd>(
    lo: T,
    hi: T,
    what: &'static str,
) -> impl FnOnce(&str) -> Result<T, String> {
    move |s| {
        s.parse::<T>()
            .ok()
            .filter(|v| *v >= lo && *v <= hi)
            .ok_or_else(|| format!("must be {what}, got {s:?}"))
    }
}

/// The alerting settings (CAP sender, public address, webhook): one section of `load_from`.
fn alerting(
    f: &FileSettings,
    src: &Sources,
    plain: crate::outbound::PlainHttp,
) -> Result<AlertingSettings, ConfigError> {
    let cap_sender = src.get(
        "cap_sender",
        f.cap_sender.as_ref(),
        "safecode@localhost",
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
    let public_url = src.get("public_url", f.public_url.as_ref(), "", |s| match s {
        "" => Ok(None),
        s if (s.starts_with("http://") || s.starts_with("https://"))
            && !s.contains(['"', '<', '>', ' ']) =>
        {
            Ok(Some(s.trim_end_matches('/').to_owned()))
        }
        _ => Err(format!("must be an http:// or https:// address, got {s:?}")),
    })?;
    let webhook_url = src.get(
        "alert_webhook_url",
        f.alert_webhook_url.as_ref(),
        "",
        outbound_url(plain),
    )?;
    let webhook_secret = src.get(
        "alert_webhook_secret",
        f.alert_webhook_secret.as_ref(),
        "",
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
    let retry_base_ms = src.get(
        "webhook_retry_base_ms",
        f.webhook_retry_base_ms,
        "2000",
        within(10u64, 600_000, "10 to 600000 milliseconds"),
    )?;
    let webhook = match (webhook_url, webhook_secret) {
        (Some(url), Some(secret)) => Some(WebhookSettings {
            url,
            secret,
            retry_base_ms,
        }),
        _ => None,
    };
    let sms = sms_gateway(f, src, plain, public_url.is_some())?;
    let smtp = smtp(f, src)?;
    let dingtalk_hosts = src.get(
        "dingtalk_hosts",
        f.dingtalk_hosts.as_ref(),
        "oapi.dingtalk.com",
        |s| {
            let hosts: Vec<String> = s
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect();
            if hosts.iter().all(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            }) {
                Ok(hosts)
            } else {
                Err(format!("must be host names separated by commas, got {s:?}"))
            }
        },
    )?;
    let ack_link_hours = src.get(
        "ack_link_hours",
        f.ack_link_hours,
        "72",
        within(1u32, 720, "1 to 720 hours"),
    )?;
    Ok(AlertingSettings {
        cap_sender,
        public_url,
        webhook,
        sms,
        smtp,
        dingtalk_hosts,
        ack_link_hours,
        retry_base_ms,
    })
}

/// The SMS gateway: its format, address and credentials, all or nothing.
fn sms_gateway(
    f: &FileSettings,
    src: &Sources,
    plain: crate::outbound::PlainHttp,
    has_public_url: bool,
) -> Result<Option<SmsGateway>, ConfigError> {
    let format = src.get("sms_gateway", f.sms_gateway.as_ref(), "", |s| match s {
        "" | "twilio" | "json" => Ok(s.to_owned()),
        _ => Err(format!("must be twilio or json, got {s:?}")),
    })?;
    let required = |key: &str, v: Option<String>| -> Result<String, ConfigError> {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::Value {
                source_name: format!("`{key}`"),
                reason: format!("must be set when sms_gateway is {format}"),
            })
    };
    let opt = |key: &str, file: Option<&String>| src.optional_text(key, file);
    let url = src.get(
        "sms_gateway_url",
        f.sms_gateway_url.as_ref(),
        "",
        outbound_url(plain),
    )?;
    let account = opt("sms_gateway_account", f.sms_gateway_account.as_ref())?;
    let token = opt("sms_gateway_token", f.sms_gateway_token.as_ref())?;
    let from = opt("sms_gateway_from", f.sms_gateway_from.as_ref())?;
    let template = src.get(
        "sms_gateway_template",
        f.sms_gateway_template.as_ref(),
        r#"{"to":"{to}","text":"{text}","ref":"{ref}","from":"{from}"}"#,
        |s| match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(v),
            _ => Err("must be a JSON object".to_owned()),
        },
    )?;
    let id_pointer = src.get(
        "sms_gateway_id_pointer",
        f.sms_gateway_id_pointer.as_ref(),
        "/message_id",
        |s| {
            (s.is_empty() || s.starts_with('/'))
                .then(|| s.to_owned())
                .ok_or_else(|| format!("must be a JSON pointer such as /message_id, got {s:?}"))
        },
    )?;
    let receipt_secret = opt("sms_receipt_secret", f.sms_receipt_secret.as_ref())?;
    if format.is_empty() {
        return Ok(None);
    }
    if !has_public_url {
        return Err(ConfigError::Value {
            source_name: "`public_url`".into(),
            reason: "must be set when an SMS gateway is: messages link to it and receipts \
                     come back to it"
                .into(),
        });
    }
    let url = required("sms_gateway_url", url)?;
    let from = required("sms_gateway_from", from)?;
    let format = if format == "twilio" {
        SmsFormat::Twilio {
            account: required("sms_gateway_account", account)?,
            token: required("sms_gateway_token", token)?,
        }
    } else {
        let receipt_secret = required("sms_receipt_secret", receipt_secret)?;
        if receipt_secret.len() < 32 {
            return Err(ConfigError::Value {
                source_name: "`sms_receipt_secret`".into(),
                reason: "must be at least 32 characters".into(),
            });
        }
        SmsFormat::Json {
            template,
            id_pointer,
            token,
            receipt_secret,
        }
    };
    Ok(Some(SmsGateway { url, format, from }))
}

/// The mail server for officials' escalations.
fn smtp(f: &FileSettings, src: &Sources) -> Result<Option<SmtpSettings>, ConfigError> {
    let host = src.get("smtp_host", f.smtp_host.as_ref(), "", |s| {
        Ok::<_, String>(s.to_owned())
    })?;
    let port = src.get("smtp_port", f.smtp_port, "587", positive::<u16>)?;
    let username = src.optional_text("smtp_username", f.smtp_username.as_ref())?;
    let password = src.optional_text("smtp_password", f.smtp_password.as_ref())?;
    let from = src.get("smtp_from", f.smtp_from.as_ref(), "", |s| {
        if s.is_empty() || (s.contains('@') && !s.contains(['\r', '\n'])) {
            Ok(s.to_owned())
        } else {
            Err(format!("must be an email address, got {s:?}"))
        }
    })?;
    if host.is_empty() {
        return Ok(None);
    }
    if from.is_empty() {
        return Err(ConfigError::Value {
            source_name: "`smtp_from`".into(),
            reason: "must be set when smtp_host is".into(),
        });
    }
    Ok(Some(SmtpSettings {
        host,
        port,
        username,
        password,
        from,
    }))
}

/// An address the server sends to (HTTPS, or plain HTTP to loopback when allowed), or nothing
/// when the value is empty.
fn outbound_url(
    plain: crate::outbound::PlainHttp,
) -> impl FnOnce(&str) -> Result<Option<String>, String> {
    move |s| match s {
        "" => Ok(None),
        s => crate::outbound::check_url(s, plain)
            .map(|_| Some(s.to_owned()))
            .map_err(|e| e.to_string()),
    }
}

/// A readable file, or nothing when the value is empty.
fn file(s: &str) -> Result<Option<PathBuf>, String> {
    match s {
        "" => Ok(None),
        s if Path::new(s).is_file() => Ok(Some(PathBuf::from(s))),
        s => Err(format!("{s:?} is not a file")),
    }
}

/// HTTPS on this server's port: both files or neither.
fn tls(f: &FileSettings, src: &Sources) -> Result<Option<TlsSettings>, ConfigError> {
    let cert = src.get("tls_cert", f.tls_cert.as_ref(), "", file)?;
    let key = src.get("tls_key", f.tls_key.as_ref(), "", |s| {
        match (file(s)?, &cert) {
            (Some(k), Some(_)) => Ok(Some(k)),
            (None, None) => Ok(None),
            (None, Some(_)) => {
                Err("must be set (SAFECODE_TLS_KEY: the key's PEM file) when tls_cert is".into())
            }
            (Some(_), None) => Err("is set but tls_cert is not".into()),
        }
    })?;
    Ok(cert.zip(key).map(|(cert, key)| TlsSettings { cert, key }))
}

/// Requests to other servers: one section of `load_from`.
fn outbound(
    f: &FileSettings,
    src: &Sources,
) -> Result<crate::outbound::OutboundSettings, ConfigError> {
    use crate::outbound::PlainHttp;
    Ok(crate::outbound::OutboundSettings {
        extra_ca: src.get("extra_ca_file", f.extra_ca_file.as_ref(), "", file)?,
        plain_http: src.get(
            "allow_plain_http",
            f.allow_plain_http.as_ref(),
            "off",
            |s| match s {
                "off" => Ok(PlainHttp::Refused),
                "loopback" => Ok(PlainHttp::Loopback),
                _ => Err(format!("must be off or loopback, got {s:?}")),
            },
        )?,
    })
}

/// The map's settings: one section of `load_from`.
fn map(f: &FileSettings, src: &Sources) -> Result<MapSettings, ConfigError> {
    let tiles = src.get("tiles", f.tiles.as_ref(), "", |s| {
        file(s).map_err(|e| format!("{e} (an MBTiles file of raster tiles)"))
    })?;
    let tile_url = src.get("tile_url", f.tile_url.as_ref(), "", |s| match s {
        "" => Ok(None),
        s if (s.starts_with("https://") || s.starts_with("http://"))
            && ["{z}", "{x}", "{y}"].iter().all(|p| s.contains(p))
            && !s.contains(['"', '<', '>', ' ', '\\', ';'])
            && reqwest::Url::parse(&s.replace(['{', '}'], "")).is_ok() =>
        {
            Ok(Some(s.to_owned()))
        }
        _ => Err(format!(
            "must be an https:// address with {{z}}, {{x}} and {{y}}, got {s:?}"
        )),
    })?;
    let tile_attribution = src.get("tile_attribution", f.tile_attribution.as_ref(), "", |s| {
        (s.chars().count() <= 200 && !s.chars().any(char::is_control))
            .then(|| s.to_owned())
            .ok_or_else(|| "must be at most 200 characters of text".to_owned())
    })?;
    let zone_sample_secs = src.get(
        "zone_sample_secs",
        f.zone_sample_secs,
        "300",
        within(1u32, 86_400, "1 to 86400 seconds"),
    )?;
    Ok(MapSettings {
        tiles,
        tile_url,
        tile_attribution,
        zone_sample_secs,
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
            "sign_in_per_ip" => &mut r.sign_in_per_ip,
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
        let src = Sources { env };
        let outbound = outbound(&f, &src)?;
        let import_limit_mb: usize =
            src.get("import_limit_mb", f.import_limit_mb, "200", positive)?;
        Ok(Self {
            retention: RetentionSettings {
                after_all_clear_days: src.get(
                    "retention_days",
                    f.retention_days,
                    "30",
                    within(0u32, 3650, "0 to 3650 days"),
                )?,
                season_end: src.get("season_end", f.season_end.as_ref(), "", |s| {
                    if s.is_empty() {
                        return Ok(None);
                    }
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map(Some)
                        .map_err(|_| format!("must be a date like 2026-10-31, got {s:?}"))
                })?,
                check_secs: src.get(
                    "retention_check_secs",
                    f.retention_check_secs,
                    "3600",
                    within(1u64, 86_400, "1 to 86400 seconds"),
                )?,
                batch: src.get(
                    "retention_batch",
                    f.retention_batch,
                    "1000",
                    within(1i64, 100_000, "1 to 100000 rows"),
                )?,
                pause_ms: src.get(
                    "retention_pause_ms",
                    f.retention_pause_ms,
                    "0",
                    within(0u64, 60_000, "0 to 60000 ms"),
                )?,
            },
            alerting: alerting(&f, &src, outbound.plain_http)?,
            tls: tls(&f, &src)?,
            outbound,
            map: map(&f, &src)?,
            live_stream_secs: src.get(
                "live_stream_secs",
                f.live_stream_secs,
                "300",
                within(1u32, 3600, "1 to 3600 seconds"),
            )?,
            bind: src.get("bind", f.bind, "127.0.0.1:8080", |s| {
                s.parse::<SocketAddr>().map_err(|_| {
                    format!("must be host:port with an IP address, e.g. 127.0.0.1:8080, got {s:?}")
                })
            })?,
            database_url: src.get(
                "database_url",
                f.database_url,
                "sqlite://data/safecode.db",
                DatabaseUrl::parse,
            )?,
            database_read_url: src.get(
                "database_read_url",
                f.database_read_url,
                "",
                |s| match s {
                    "" => Ok(None),
                    s if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                        Ok(Some(s.to_owned()))
                    }
                    _ => Err("must be a postgres:// URL (a replica of DATABASE_URL)".into()),
                },
            )?,
            read_max_lag_ms: src.get(
                "read_max_lag_ms",
                f.read_max_lag_ms,
                "500",
                within(50u32, 60_000, "50 to 60000 milliseconds"),
            )?,
            trusted_proxies: src.get("trusted_proxies", f.trusted_proxies, "", |s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        p.parse::<ipnet::IpNet>()
                            .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| format!("{p:?} is not an IP address or CIDR"))
                    })
                    .collect()
            })?,
            max_db_connections: src.get(
                "max_db_connections",
                f.max_db_connections,
                "10",
                positive,
            )?,
            keys_dir: src.get("keys_dir", f.keys_dir, "keys", |s| {
                let p = PathBuf::from(s);
                if s.is_empty() {
                    Err("must not be empty".into())
                } else if p.is_file() {
                    Err(format!("{s:?} is a file, not a folder"))
                } else {
                    Ok(p)
                }
            })?,
            body_deadline_secs: src.get(
                "body_deadline_secs",
                f.body_deadline_secs,
                "60",
                within(1, 3600, "1 to 3600 seconds"),
            )?,
            sqlite_synchronous: src.get(
                "sqlite_synchronous",
                f.sqlite_synchronous,
                "full",
                |s| match s {
                    "full" => Ok(SqliteSync::Full),
                    "normal" => Ok(SqliteSync::Normal),
                    _ => Err(format!("must be full or normal, got {s:?}")),
                },
            )?,
            log_format: src.get("log_format", f.log_format, "text", |s| match s {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("must be text or json, got {s:?}")),
            })?,
            workers: src.get("workers", f.workers, "0", |s| match s.parse::<usize>() {
                Ok(0) => Ok(None),
                Ok(n) if n <= 256 => Ok(Some(n)),
                _ => Err(format!(
                    "must be a number from 0 (one per core) to 256, got {s:?}"
                )),
            })?,
            import_limit_bytes: import_limit_mb.saturating_mul(1024 * 1024),
            appeal_deadline_hours: src.get(
                "appeal_deadline_hours",
                f.appeal_deadline_hours,
                "24",
                positive,
            )?,
            printed_code_days: src.get(
                "printed_code_days",
                f.printed_code_days,
                "180",
                positive,
            )?,
            sessions: SessionSettings {
                idle_minutes: src.get(
                    "session_idle_minutes",
                    f.session_idle_minutes,
                    "60",
                    within(1, 24 * 60, "1 to 1440 minutes"),
                )?,
                lifetime_hours: src.get(
                    "session_hours",
                    f.session_hours,
                    "12",
                    within(1, 7 * 24, "1 to 168 hours"),
                )?,
                device_hours: src.get(
                    "device_hours",
                    f.device_hours,
                    "72",
                    within(1, 30 * 24, "1 to 720 hours"),
                )?,
            },
            approver_cooling_off_hours: src.get(
                "approver_cooling_off_hours",
                f.approver_cooling_off_hours,
                "24",
                within(0, u32::MAX, "a whole number"),
            )?,
            auth_cache_ms: src.get(
                "auth_cache_ms",
                f.auth_cache_ms,
                "2000",
                within(0, 60_000, "a whole number of milliseconds up to 60000"),
            )?,
            audit_anchor_secs: src.get(
                "audit_anchor_secs",
                f.audit_anchor_secs,
                "60",
                within(1, 60, "1 to 60 seconds"),
            )?,
            status_list_debounce_secs: src.get(
                "status_list_debounce_secs",
                f.status_list_debounce_secs,
                "30",
                within(1, 3600, "1 to 3600 seconds"),
            )?,
            bundle_max_age_secs: src.get(
                "bundle_max_age_secs",
                f.bundle_max_age_secs,
                "21600",
                within(60, 7 * 86_400, "60 seconds to 7 days"),
            )?,
            rate_limits: src.get("rate_limits", f.rate_limits, "on", parse_rate_limits)?,
            scan_batch: src.get("scan_batch", f.scan_batch, "on", |s| match s {
                "on" => Ok(true),
                "off" => Ok(false),
                _ => Err(format!("must be on or off, got {s:?}")),
            })?,
            facts_cache: src.get("facts_cache", f.facts_cache, "200000", |s| match s {
                "off" => Ok(0),
                n => n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= 10_000_000)
                    .ok_or_else(|| format!("must be off or a number up to 10000000, got {s:?}")),
            })?,
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
    fn a_webhook_is_https_unless_loopback_is_allowed() {
        let secret = (
            "SAFECODE_ALERT_WEBHOOK_SECRET",
            "k7f2-very-long-shared-secret-0123456789",
        );
        let plain = (
            "SAFECODE_ALERT_WEBHOOK_URL",
            "http://hub.example.gov.cn/hook",
        );
        let e = Settings::load_from(None, &env(&[plain, secret])).unwrap_err();
        assert!(e.to_string().contains("SAFECODE_ALERT_WEBHOOK_URL"), "{e}");
        let local = ("SAFECODE_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook");
        assert!(Settings::load_from(None, &env(&[local, secret])).is_err());
        let allow = ("SAFECODE_ALLOW_PLAIN_HTTP", "loopback");
        assert!(Settings::load_from(None, &env(&[local, secret, allow])).is_ok());
        assert!(Settings::load_from(None, &env(&[plain, secret, allow])).is_err());
        let tls = (
            "SAFECODE_ALERT_WEBHOOK_URL",
            "https://hub.example.gov.cn/hook",
        );
        assert!(Settings::load_from(None, &env(&[tls, secret])).is_ok());
        let bad = ("SAFECODE_ALLOW_PLAIN_HTTP", "yes");
        assert!(Settings::load_from(None, &env(&[bad])).is_err());
    }

    #[test]
    fn tls_takes_both_files_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "x").unwrap();
        let c = ("SAFECODE_TLS_CERT", cert.to_str().unwrap());
        let e = Settings::load_from(None, &env(&[c])).unwrap_err();
        assert!(e.to_string().contains("SAFECODE_TLS_KEY"), "{e}");
        let k = ("SAFECODE_TLS_KEY", cert.to_str().unwrap());
        let s = Settings::load_from(None, &env(&[c, k])).unwrap();
        assert_eq!(s.tls.unwrap().cert, cert);
        let missing = ("SAFECODE_TLS_CERT", "/nonexistent/cert.pem");
        assert!(Settings::load_from(None, &env(&[missing, k])).is_err());
    }

    #[test]
    fn a_webhook_needs_a_long_secret_which_never_prints() {
        let url = ("SAFECODE_ALERT_WEBHOOK_URL", "https://127.0.0.1:9/hook");
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
        assert_eq!(hook.url, "https://127.0.0.1:9/hook");
        assert!(!format!("{s:?}").contains("k7f2"), "the secret is redacted");
        let e = Settings::load_from(None, &env(&[("SAFECODE_CAP_SENDER", "a b")])).unwrap_err();
        assert!(e.to_string().contains("SAFECODE_CAP_SENDER"), "{e}");
    }

    #[test]
    fn an_sms_gateway_is_all_or_nothing_and_its_credentials_never_print() {
        let twilio = ("SAFECODE_SMS_GATEWAY", "twilio");
        let url = (
            "SAFECODE_SMS_GATEWAY_URL",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
        );
        let from = ("SAFECODE_SMS_GATEWAY_FROM", "+8610000000");
        let account = ("SAFECODE_SMS_GATEWAY_ACCOUNT", "AC1");
        let token = ("SAFECODE_SMS_GATEWAY_TOKEN", "tw-secret-token-9f3");
        let public = ("SAFECODE_PUBLIC_URL", "https://sc.example");
        let e = Settings::load_from(None, &env(&[twilio, url, from, account, token])).unwrap_err();
        assert!(
            e.to_string().contains("public_url"),
            "receipts need it: {e}"
        );
        let e = Settings::load_from(None, &env(&[twilio, url, from, account, public])).unwrap_err();
        assert!(e.to_string().contains("sms_gateway_token"), "{e}");
        let s =
            Settings::load_from(None, &env(&[twilio, url, from, account, token, public])).unwrap();
        assert_eq!(s.alerting.sms.as_ref().unwrap().format.name(), "twilio");
        assert!(
            !format!("{s:?}").contains("tw-secret"),
            "the token is redacted"
        );
        let plain = ("SAFECODE_SMS_GATEWAY_URL", "http://gateway.example/sms");
        assert!(
            Settings::load_from(None, &env(&[twilio, plain, from, account, token, public]))
                .is_err()
        );
        let json = ("SAFECODE_SMS_GATEWAY", "json");
        let short = ("SAFECODE_SMS_RECEIPT_SECRET", "short");
        let e = Settings::load_from(None, &env(&[json, url, from, public, short])).unwrap_err();
        assert!(e.to_string().contains("sms_receipt_secret"), "{e}");
        let bad = ("SAFECODE_SMS_GATEWAY_TEMPLATE", "[1]");
        let e = Settings::load_from(None, &env(&[json, url, from, public, bad])).unwrap_err();
        assert!(
            e.to_string().contains("SAFECODE_SMS_GATEWAY_TEMPLATE"),
            "{e}"
        );
        let e = Settings::load_from(None, &env(&[("SAFECODE_SMS_GATEWAY", "aliyun")])).unwrap_err();
        assert!(e.to_string().contains("twilio or json"), "{e}");
    }

    #[test]
    fn mail_needs_a_sender_and_robots_a_list_of_hosts() {
        let host = ("SAFECODE_SMTP_HOST", "mail.example");
        let e = Settings::load_from(None, &env(&[host])).unwrap_err();
        assert!(e.to_string().contains("smtp_from"), "{e}");
        let from = ("SAFECODE_SMTP_FROM", "alerts@sc.example");
        let password = ("SAFECODE_SMTP_PASSWORD", "mail-pass-77x");
        let s = Settings::load_from(None, &env(&[host, from, password])).unwrap();
        assert_eq!(s.alerting.smtp.as_ref().unwrap().port, 587);
        assert!(
            !format!("{s:?}").contains("mail-pass"),
            "the password is redacted"
        );
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.alerting.dingtalk_hosts, ["oapi.dingtalk.com"]);
        let hosts = (
            "SAFECODE_DINGTALK_HOSTS",
            "oapi.dingtalk.com, robot.gov.example",
        );
        let s = Settings::load_from(None, &env(&[hosts])).unwrap();
        assert_eq!(s.alerting.dingtalk_hosts.len(), 2);
        let bad = ("SAFECODE_DINGTALK_HOSTS", "evil/path");
        assert!(Settings::load_from(None, &env(&[bad])).is_err());
    }
}
