//! Builds the application from settings: database, migrations, keys, first admin, server.

use crate::config::Settings;
use crate::http;
use crate::keys::IdHashKey;
use crate::service::{Ctx, users};
use crate::store::Db;
use actix_web::{HttpServer, dev::Server, web};
use std::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    #[error("cannot prepare the database: {0}")]
    Bootstrap(#[from] crate::service::ServiceError),
    #[error("HTTPS: {0}")]
    Tls(String),
    #[error(transparent)]
    Outbound(#[from] crate::outbound::OutboundError),
    #[error("DATABASE_READ_URL: {0}")]
    Replica(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Connects, migrates and loads the keys: what `serve` and every CLI command need.
pub async fn context(settings: &Settings) -> Result<Ctx, StartError> {
    let _lock = crate::store::startup_lock(&settings.database_url).await?;
    prepare(settings).await
}

async fn prepare(settings: &Settings) -> Result<Ctx, StartError> {
    let db = Db::connect_with(
        &settings.database_url,
        settings.max_db_connections,
        settings.sqlite_synchronous,
    )
    .await?;
    db.migrate().await?;
    let replica = match &settings.database_read_url {
        None => None,
        Some(_) if !matches!(db, Db::Postgres(_)) => {
            return Err(StartError::Replica(
                "a read replica needs a PostgreSQL primary".into(),
            ));
        }
        Some(url) => Some(std::sync::Arc::new(
            crate::store::replica::Replica::connect(
                url,
                settings.max_db_connections,
                std::time::Duration::from_millis(u64::from(settings.read_max_lag_ms)),
            )
            .await?,
        )),
    };
    let id_key = IdHashKey::load_or_create(&settings.keys_dir)?;
    let keys = crate::keys::signing::Keyring::open(&settings.keys_dir)?;
    let ctx = Ctx {
        admissions: crate::service::admissions::AdmissionWriter::start(db.clone()),
        status_lists: std::sync::Arc::new(crate::service::status_list::StatusLists::new(
            settings.status_list_debounce_secs,
            settings.bundle_max_age_secs,
        )),
        alerting: std::sync::Arc::new(settings.alerting.clone()),
        webhook_wake: Default::default(),
        sms_wake: Default::default(),
        contacts_wake: Default::default(),
        scans: crate::service::scans::ScanBatches::new(settings.scan_batch),
        fresh_facts: match &db {
            Db::Postgres(pool) if settings.facts_cache > 0 => {
                Some(crate::service::fresh_facts::FreshFacts::new(
                    settings.facts_cache,
                    crate::store::commits_of(pool),
                ))
            }
            _ => None,
        },
        anchors: Default::default(),
        map: std::sync::Arc::new(settings.map.clone()),
        tiles: match &settings.map.tiles {
            Some(path) => Some(crate::store::tiles::TileFile::open(path).await?),
            None => None,
        },
        outbound: crate::outbound::Outbound::new(&settings.outbound)?,
        live: std::sync::Arc::new(crate::service::live::Pulse::new(
            std::time::Duration::from_secs(u64::from(settings.live_stream_secs)),
        )),
        db,
        replica,
        id_key,
        keys,
        rules: Default::default(),
        appeal_deadline: chrono::Duration::hours(i64::from(settings.appeal_deadline_hours)),
        retention: settings.retention,
        printed_code_days: i64::from(settings.printed_code_days),
        sessions: settings.sessions,
        approver_cooling_off: chrono::Duration::hours(i64::from(
            settings.approver_cooling_off_hours,
        )),
        principals: crate::service::principal_cache::PrincipalCache::new(
            std::time::Duration::from_millis(settings.auth_cache_ms),
        ),
    };
    crate::service::rules::install_default(&ctx)
        .await
        .map_err(StartError::Bootstrap)?;
    Ok(ctx)
}

pub struct Application {
    port: u16,
    server: Server,
    ctx: Ctx,
    /// The first admin's token, when this start created them.
    pub bootstrap_admin_token: Option<String>,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartError> {
        let lock = crate::store::startup_lock(&settings.database_url).await?;
        let ctx = prepare(settings).await?;
        let bootstrap_admin_token = users::bootstrap_admin(&ctx).await?.and_then(|u| u.token);
        // A chain written before sealing existed is resealed once, by the first server to
        // start. A chain that does not verify is left as it is and said loudly: the service
        // must still start on the day of a flood.
        if let Err(e) = crate::service::audit::reseal(&ctx).await {
            tracing::error!(error = %e, "the audit chain was not resealed");
        }
        drop(lock);
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartError::Bind {
            addr: settings.bind.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: settings.bind.to_string(),
                source,
            })?
            .port();
        if let Some(r) = &ctx.replica {
            tokio::spawn(r.clone().watch(ctx.db.clone()));
        }
        tokio::spawn(crate::service::status_list::keep_fresh(ctx.clone()));
        if let (Some(ff), Db::Postgres(pool)) = (&ctx.fresh_facts, &ctx.db) {
            ff.start(pool.clone());
        }
        tokio::spawn(crate::service::alerts::escalate_when_due(ctx.clone()));
        tokio::spawn(crate::service::alerts::webhook::deliver_when_due(
            ctx.clone(),
        ));
        tokio::spawn(crate::service::alerts::sms::deliver_when_due(ctx.clone()));
        tokio::spawn(crate::service::deletion::carry_out_every(ctx.clone()));
        tokio::spawn(crate::service::retention::run_every(ctx.clone()));
        tokio::spawn(crate::service::alerts::contacts::deliver_when_due(
            ctx.clone(),
        ));
        tokio::spawn(forget_old_idempotency_records(ctx.db.clone()));
        tokio::spawn(crate::service::live::watch_changes(ctx.clone()));
        tokio::spawn(crate::service::zone_history::sample_every(ctx.clone()));
        tokio::spawn(crate::service::audit::anchor_every(
            ctx.clone(),
            std::time::Duration::from_secs(settings.audit_anchor_secs),
        ));
        let data = web::Data::new(ctx.clone());
        let metrics = web::Data::new(http::metrics::Metrics::new());
        let import_limit = settings.import_limit_bytes;
        let body_deadline = settings.body_deadline_secs;
        // One set of limits for all of this process's workers.
        let limits = web::Data::new(http::rate_limit::Limits::new(
            &settings.rate_limits,
            &settings.trusted_proxies,
        ));
        if limits.is_some() {
            let limits = limits.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    if let Some(l) = limits.as_ref().as_ref() {
                        l.forget_idle();
                    }
                }
            });
        }
        let https = settings.tls.is_some();
        let mut server = HttpServer::new(move || {
            http::app(
                data.clone(),
                metrics.clone(),
                http::bounds::BodySettings {
                    import_bytes: import_limit,
                    deadline: std::time::Duration::from_secs(body_deadline),
                },
                limits.clone(),
                https,
            )
        })
        // SIGTERM/SIGINT: stop accepting, let requests in flight finish.
        .shutdown_timeout(30);
        server = match &settings.tls {
            Some(files) => server.listen_rustls_0_23(
                listener,
                http::tls::server_config(files).map_err(StartError::Tls)?,
            ),
            None => server.listen(listener),
        }
        .map_err(|source| StartError::Bind {
            addr: settings.bind.to_string(),
            source,
        })?;
        if let Some(w) = settings.workers {
            server = server.workers(w);
        }
        Ok(Self {
            port,
            server: server.run(),
            ctx,
            bootstrap_admin_token,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let db = self.ctx.db.clone();
        let r = self.server.await;
        db.close().await;
        r
    }
}

/// Idempotency records live a day (`store::idempotency::KEPT_FOR`): cleared every ten minutes.
async fn forget_old_idempotency_records(db: Db) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = crate::store::idempotency::purge(&db, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "could not purge old idempotency records");
        }
    }
}
