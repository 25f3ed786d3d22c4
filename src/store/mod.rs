//! The only place with SQL. One pool enum over SQLite and PostgreSQL; each query is written
//! once and run on either through [`on_db!`] / [`on_tx!`] (placeholders are `$n`, which both
//! understand).

pub mod alerts;
pub mod appeals;
pub mod audit;
pub mod audit_keys;
pub mod channels;
pub mod credentials;
pub mod deletion;
pub mod devices;
pub mod districts;
pub mod facts;
pub mod facts_feed;
pub mod idempotency;
pub mod live;
pub mod meta;
pub mod my_data;
pub mod on_thread;
pub mod orders;
pub mod overrides;
pub mod passkeys;
pub mod relief;
pub mod replica;
pub mod reports;
pub mod residents;
pub mod retention;
pub mod rules;
pub mod safety;
pub mod shelters;
pub mod status_lists;
pub mod sync;
pub mod tiles;
pub mod trail;
pub mod users;
pub mod zone_history;
pub mod zones;

use crate::config::DatabaseUrl;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite allows one writer at a time. Write transactions take the single connection of
    /// `write` and so queue in the pool, first come first served, instead of spinning in
    /// SQLite's busy handler (which sleeps up to 100 ms a try and ruins tail latency).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// The database file, when it is one (not in memory): the scan path reads it on the
        /// server's own thread ([`on_thread`]).
        file: Option<std::sync::Arc<std::path::Path>>,
    },
    Postgres(PgPool),
}

/// Write transactions committed through one PostgreSQL pool by this process: facts kept from
/// before the last one are not used until the change feed has caught up with it
/// (`service::fresh_facts`), so a write is seen by the next scan on the same server.
pub type Commits = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// The [`Commits`] of `pool` (one counter for all its clones: they share their options).
pub fn commits_of(pool: &PgPool) -> Commits {
    static ALL: std::sync::Mutex<Vec<(usize, Commits)>> = std::sync::Mutex::new(Vec::new());
    let key = std::sync::Arc::as_ptr(&pool.connect_options()) as usize;
    let mut all = ALL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = all.iter().find(|(k, _)| *k == key) {
        return c.clone();
    }
    let c = Commits::default();
    all.push((key, c.clone()));
    c
}

pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>, Commits),
}

/// Runs one body on whichever pool `db` holds; `$c` is the pool. For reads: writes go
/// through a transaction ([`Db::begin`]).
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite { read: $c, .. } => $body,
            $crate::store::Db::Postgres($c) => $body,
        }
    };
}

/// Runs one body inside a transaction; `$c` is the transaction's connection.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t, _) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database folder: {0}")]
    Folder(std::io::Error),
    #[error("database error: {0}")]
    OnThread(#[from] rusqlite::Error),
    #[error("stored data is not what this version expects: {0}")]
    Corrupt(String),
    /// A task that writes for this process is not running (shutting down).
    #[error("{0} has stopped")]
    Stopped(&'static str),
}

impl StoreError {
    /// The database could not be reached (as opposed to a query being wrong).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            ) | StoreError::Stopped(_)
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Connects, creating the SQLite file and its folder if needed; commits are durable.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self> {
        Self::connect_with(url, max_connections, crate::config::SqliteSync::Full).await
    }

    /// Connects with the given SQLite durability (PostgreSQL commits are always flushed:
    /// `synchronous_commit` is set on for every connection, whatever the server's default).
    pub async fn connect_with(
        url: &DatabaseUrl,
        max_connections: u32,
        sync: crate::config::SqliteSync,
    ) -> Result<Self> {
        match url {
            DatabaseUrl::Sqlite(u) => {
                let opts = SqliteConnectOptions::from_str(u)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // WAL + FULL: the WAL is synced at every commit, so what was answered
                    // survives a power cut (in a typhoon, it fails). The admission writer
                    // commits a batch at once, so the sync is paid per batch, not per scan.
                    // NORMAL (a benchmark's choice) survives a process crash only.
                    .synchronous(match sync {
                        crate::config::SqliteSync::Full => SqliteSynchronous::Full,
                        crate::config::SqliteSync::Normal => SqliteSynchronous::Normal,
                    })
                    .busy_timeout(Duration::from_secs(15))
                    // Three unique indexes over random keys (public id, ID hash, status slot):
                    // with SQLite's default 2 MB cache every insert into a large table would
                    // read index pages from disk.
                    .pragma("cache_size", "-65536")
                    .pragma("temp_store", "memory")
                    // Deleted and overwritten content is zeroed in the file, not left in free
                    // pages: what retention and deletion remove is gone from the disk too.
                    .pragma("secure_delete", "ON")
                    .foreign_keys(true);
                if let Some(dir) = opts.get_filename().parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(StoreError::Folder)?;
                }
                // The writer does not checkpoint the WAL itself (SQLite would, inside the
                // commit that crosses 1000 pages, with an fsync, while every other write
                // waits); a task does it beside, from a reading connection.
                let write = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts.clone().pragma("wal_autocheckpoint", "0"))
                    .await?;
                let read = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(20))
                    .connect_with(opts)
                    .await?;
                tokio::spawn(checkpoint_now_and_then(read.clone()));
                let options = read.connect_options();
                let path = options.get_filename();
                let file = path.is_file().then(|| std::sync::Arc::from(path));
                Ok(Db::Sqlite { read, write, file })
            }
            DatabaseUrl::Postgres(u) => {
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|c, _| {
                        Box::pin(async move {
                            // A 2xx answer means the commit is on the disk.
                            sqlx::query("SET synchronous_commit = on")
                                .execute(&mut *c)
                                .await?;
                            // Short queries only: JIT compilation never pays here, and a
                            // cost estimate over a table without statistics yet (just
                            // after a bulk import) compiled each scan's facts query for
                            // 60 ms, taking verify at a million residents from 12,000 to
                            // 2,500 a second.
                            sqlx::query("SET jit = off").execute(c).await?;
                            Ok(())
                        })
                    })
                    .connect(u)
                    .await?;
                Ok(Db::Postgres(pool))
            }
        }
    }

    /// Refreshes PostgreSQL's planner statistics for `tables` after a bulk change (an import, a
    /// zone over many), so that the next scans are planned for the table as it is, not as it
    /// was. SQLite reads no statistics unless asked, and its plans here are fixed by indexes.
    pub async fn analyze(&self, tables: &[&'static str]) -> Result<()> {
        if let Db::Postgres(pool) = self {
            for t in tables {
                sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {t}")))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Applies the embedded migrations. On PostgreSQL sqlx holds an advisory lock while it
    /// migrates, so several servers starting at once apply each migration exactly once; on
    /// SQLite the caller holds [`startup_lock`].
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Ready to serve: reachable, and every migration this binary knows is applied.
    pub async fn ready(&self) -> Result<bool> {
        let expected = match self {
            Db::Sqlite { .. } => SQLITE_MIGRATIONS.iter().count(),
            Db::Postgres(_) => POSTGRES_MIGRATIONS.iter().count(),
        } as i64;
        let applied: i64 = on_db!(self, |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(c)
                .await?
        });
        Ok(applied >= expected)
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a transaction that read first and wrote later could otherwise fail with
    /// "database is locked" instead of waiting its turn.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?, commits_of(p)),
        })
    }

    /// Makes what was removed unrecoverable from the files as far as the database can: on
    /// SQLite the WAL (which still holds the old pages) is copied back and truncated; on
    /// PostgreSQL the tables retention changes are vacuumed, so dead rows' space is reused.
    pub async fn scrub(&self, tables: &[&str]) -> Result<()> {
        match self {
            Db::Sqlite { write, .. } => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(write)
                    .await?;
            }
            Db::Postgres(p) => {
                for t in tables {
                    // Table names come from the code, never from a request.
                    sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM {t}")))
                        .execute(p)
                        .await?;
                }
            }
        }
        Ok(())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// (connections in the pools, idle connections), for /metrics.
    pub fn pool_usage(&self) -> (u32, usize) {
        match self {
            Db::Sqlite { read, write, .. } => (
                read.size() + write.size(),
                read.num_idle() + write.num_idle(),
            ),
            Db::Postgres(p) => (p.size(), p.num_idle()),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write, .. } => {
                write.close().await;
                read.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Copies the WAL back into the database file every quarter second (PASSIVE: it never waits
/// for or blocks a reader or the writer), until the pool closes.
async fn checkpoint_now_and_then(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
        }
    }
}

/// Start-up work on one SQLite file (switching it to WAL, migrating, first-start rows) done by
/// one process at a time: SQLite answers "database is locked" to some of it rather than
/// waiting. The lock is a file beside the database, released when the returned file is
/// dropped. PostgreSQL needs none (advisory lock for migrations, atomic statements after).
pub async fn startup_lock(url: &DatabaseUrl) -> Result<Option<std::fs::File>> {
    let DatabaseUrl::Sqlite(u) = url else {
        return Ok(None);
    };
    let opts = SqliteConnectOptions::from_str(u)?;
    let path = opts.get_filename().with_extension("startup-lock");
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(StoreError::Folder)?;
    }
    let file = std::fs::File::create(&path).map_err(StoreError::Folder)?;
    let file = tokio::task::spawn_blocking(move || file.lock().map(|_| file))
        .await
        .map_err(|e| StoreError::Folder(std::io::Error::other(e)))?
        .map_err(StoreError::Folder)?;
    Ok(Some(file))
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t, commits) => {
                t.commit().await?;
                commits.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            }
        }
        Ok(())
    }

    /// Undoes everything the transaction did (dropping it would too, but later).
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t, _) => t.rollback().await?,
        }
        Ok(())
    }
}

/// A unique constraint said no.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
