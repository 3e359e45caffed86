//! The database: the pool, the embedded migrations, and one module per table that owns that
//! table's SQL and row type. Nothing above this layer writes SQL.

pub mod api_keys;
pub mod app_passwords;
pub mod applications;
pub mod audit;
pub mod columns;
pub mod copy;
pub mod dashboard;
pub mod mail_accounts;
pub mod mail_servers;
pub mod notices;
pub mod oauth_states;
pub mod outbox;
pub mod rate_events;
pub mod sessions;
pub mod settings;
pub mod sign_in_failures;
pub mod token_handouts;
pub mod users;
pub mod webhooks;

use std::{path::Path, str::FromStr, time::Duration};

pub use columns::{Flag, OptFlag};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
    ConnectOptions, Connection,
};

/// The pool every statement runs on: SQLite (the embedded default) or PostgreSQL, chosen by
/// the URL at start. sqlx's `Any` driver runs the same SQL text on both, so each table module
/// holds one portable statement per operation (`$N` placeholders, `TRUE`/`FALSE`, no
/// SQLite-only functions) instead of one per backend.
pub type Pool = sqlx::AnyPool;
pub type Db = sqlx::Any;
pub type Tx<'c> = sqlx::Transaction<'c, Db>;

/// Anything a statement can run on: the pool, a connection, or an open transaction.
pub trait Executor<'c>: sqlx::Executor<'c, Database = Db> {}
impl<'c, T: sqlx::Executor<'c, Database = Db>> Executor<'c> for T {}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(DbError::BadUrl(format!(
                "'{}' starts with neither sqlite: nor postgres://",
                redact(url)
            )))
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("expected a database URL such as sqlite://data/mailbridge.db or postgres://user@host/db: {0}")]
    BadUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Open(sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot take the start-up lock {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot take the start-up lock in the database: {0}")]
    DbLock(sqlx::Error),
}

/// Held while an instance starts (migrations, the key check, the first admin): instances that
/// share a database and start together take turns instead of applying the same migration
/// twice. For SQLite a file lock (`flock`) next to the database file; for PostgreSQL a session
/// advisory lock on a connection of its own. Either is released when dropped — or when the
/// process dies.
pub struct StartLock {
    _file: Option<std::fs::File>,
    _conn: Option<sqlx::AnyConnection>,
}

/// The advisory-lock key of the start-up lock ("mailbrdg" in ASCII): any constant works as
/// long as every instance uses the same one.
const START_LOCK_KEY: i64 = 0x6d61_696c_6272_6467;

/// Takes the start-up lock of the database at `url`, waiting for another instance that holds
/// it. An in-memory database needs none.
pub async fn start_lock(url: &str) -> Result<StartLock, DbError> {
    if Backend::of(url)? == Backend::Postgres {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(url)
            .await
            .map_err(DbError::Open)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(START_LOCK_KEY)
            .execute(&mut conn)
            .await
            .map_err(DbError::DbLock)?;
        return Ok(StartLock {
            _file: None,
            _conn: Some(conn),
        });
    }
    let opts = connect_options(url)?;
    let file = opts.get_filename();
    if is_memory(file) {
        return Ok(StartLock {
            _file: None,
            _conn: None,
        });
    }
    let path = format!("{}.lock", file.display());
    let lock_err = |source| DbError::Lock {
        path: path.clone(),
        source,
    };
    make_folder(file)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(lock_err)?;
    // Polled rather than blocking: a blocked thread could be the one the holder runs on.
    loop {
        match f.try_lock() {
            Ok(()) => {
                return Ok(StartLock {
                    _file: Some(f),
                    _conn: None,
                })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
    }
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// The same schema for PostgreSQL, numbered on its own: `0001` is SQLite's 0001–0013 in one.
pub static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// Parses a `sqlite:` URL into connection options: WAL journal and a busy timeout so that
/// concurrent requests wait for the writer instead of failing with "database is locked".
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, DbError> {
    if !url.starts_with("sqlite:") {
        return Err(DbError::BadUrl(format!(
            "'{}' does not start with sqlite:",
            redact(url)
        )));
    }
    let opts = SqliteConnectOptions::from_str(url).map_err(|e| DbError::BadUrl(e.to_string()))?;
    Ok(opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true))
}

fn make_folder(file: &Path) -> Result<(), DbError> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !is_memory(file) {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    Ok(())
}

/// Opens the database at `url` (for SQLite creating file and folder when missing) and runs
/// that backend's migrations.
pub async fn open(url: &str) -> Result<Pool, DbError> {
    let pool = connect(url).await?;
    migrator(Backend::of(url)?).run(&pool).await?;
    Ok(pool)
}

/// The migrations of a backend.
pub fn migrator(backend: Backend) -> &'static sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => &MIGRATOR,
        Backend::Postgres => &MIGRATOR_POSTGRES,
    }
}

/// Opens a pool without migrating (`copy-db` checks a target's migrations itself).
pub async fn connect(url: &str) -> Result<Pool, DbError> {
    sqlx::any::install_default_drivers();
    match Backend::of(url)? {
        Backend::Sqlite => {
            let opts = connect_options(url)?;
            make_folder(opts.get_filename())?;
            // The first connection creates the file and switches it to WAL (a property of the
            // file, kept for every later connection); the pool's own connections then set the
            // per-connection settings the `Any` URL cannot carry.
            let memory = is_memory(opts.get_filename());
            if !memory {
                let conn = opts.connect().await.map_err(DbError::Open)?;
                conn.close().await.map_err(DbError::Open)?;
            }
            let any =
                AnyConnectOptions::from_str(url).map_err(|e| DbError::BadUrl(e.to_string()))?;
            AnyPoolOptions::new()
                // An in-memory database is one per connection: keep exactly one.
                .max_connections(if memory { 1 } else { 8 })
                // A ping before every query is a round trip to the connection's thread for
                // nothing: a SQLite connection is a local file, and a broken one fails its
                // query just the same.
                .test_before_acquire(false)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        use sqlx::Executor as _;
                        // busy_timeout and synchronous only: sqlx already turns foreign keys on.
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        Ok(())
                    })
                })
                .connect_with(any)
                .await
                .map_err(DbError::Open)
        }
        Backend::Postgres => AnyPoolOptions::new()
            .max_connections(pool_size())
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(DbError::Open),
    }
}

/// `MAILBRIDGE_DATABASE_POOL` connections per instance to PostgreSQL (default 10): with
/// several instances, their sum must stay under the server's `max_connections`.
fn pool_size() -> u32 {
    std::env::var("MAILBRIDGE_DATABASE_POOL")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10)
}

fn is_memory(file: &Path) -> bool {
    file.as_os_str() == ":memory:"
}

/// Begins a transaction that writes after it reads (an outbox event is built from the row it
/// reports). SQLite's default `BEGIN` takes the write lock only at the first write, and a
/// transaction whose snapshot another writer outdated meanwhile then fails at once with
/// "database is locked" instead of waiting; `BEGIN IMMEDIATE` takes it up front, waiting its
/// turn under the busy timeout. PostgreSQL's rows lock as they are written.
pub async fn begin_write(pool: &Pool) -> Result<Tx<'static>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// Serialises, until `tx` ends, with every other transaction that calls this with any of the
/// same `keys` — for a check that reads other rows than the one it writes ("fewer than N
/// events", "another active admin"). SQLite already runs one writing transaction at a time;
/// under PostgreSQL's default isolation two such statements running together would each see
/// only what was committed when it began and both pass, so there it takes a
/// transaction-scoped advisory lock per key, in one order (no two transactions can wait on each
/// other).
pub async fn serialize(tx: &mut Tx<'_>, keys: &[&str]) -> DbResult<()> {
    if tx.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    use sha2::Digest;
    let mut ids: Vec<i64> = keys
        .iter()
        .map(|key| {
            let digest = sha2::Sha256::digest(key.as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            i64::from_be_bytes(first)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(id)
            .execute(&mut **tx)
            .await
            .context("waiting for a lock")?;
    }
    Ok(())
}

/// A row of one page of a list, with the size of the whole list computed by the same query
/// (`(SELECT COUNT(*) ...) AS total`): one trip to the database's thread instead of two.
#[derive(sqlx::FromRow)]
pub struct Counted<T> {
    #[sqlx(flatten)]
    pub row: T,
    pub total: i64,
}

/// Splits counted rows into the rows and the total; `None` when the page is empty (past the
/// end, or nothing matches), since then no row carried the total.
pub fn split_counted<T>(rows: Vec<Counted<T>>) -> Option<(Vec<T>, i64)> {
    let total = rows.first()?.total;
    Some((rows.into_iter().map(|c| c.row).collect(), total))
}

/// A failed statement, with what it was for. Above this layer it becomes
/// [`AppError::Internal`](crate::error::AppError): logged in full, never shown to the browser.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct QueryError {
    context: &'static str,
    #[source]
    source: sqlx::Error,
}

impl QueryError {
    /// A UNIQUE constraint refused the row (a taken name or address).
    pub fn is_unique_violation(&self) -> bool {
        matches!(&self.source, sqlx::Error::Database(db) if db.is_unique_violation())
    }

    /// A foreign key refused the change (the row is still in use).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(&self.source, sqlx::Error::Database(db) if db.is_foreign_key_violation())
    }
}

/// `.context("reading a user")` on a sqlx result.
pub trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, QueryError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, QueryError> {
        self.map_err(|source| QueryError { context, source })
    }
}

impl From<QueryError> for crate::error::AppError {
    fn from(e: QueryError) -> Self {
        tracing::error!(error = %e, "database statement failed");
        crate::error::AppError::Internal
    }
}

pub type DbResult<T> = Result<T, QueryError>;
