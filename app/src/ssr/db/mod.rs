//! The database: the pool, the embedded migrations, and one module per table that owns that
//! table's SQL and row type. Nothing above this layer writes SQL.

pub mod applications;
pub mod mail_accounts;
pub mod mail_servers;
pub mod oauth_states;
pub mod rate_events;
pub mod sessions;
pub mod settings;
pub mod sign_in_failures;
pub mod users;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("expected a SQLite URL such as sqlite://data/mailbridge.db: {0}")]
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
}

/// Held while an instance starts (migrations, the key file, the first admin): instances that
/// share a database and start together take turns instead of applying the same migration
/// twice. A file lock (`flock`) next to the database file, released when dropped — or when the
/// process dies.
pub struct StartLock {
    _held: Option<std::fs::File>,
}

/// Takes the start-up lock of the database at `url`, waiting for another instance that holds
/// it. An in-memory database needs none.
pub async fn start_lock(url: &str) -> Result<StartLock, DbError> {
    let opts = connect_options(url)?;
    let file = opts.get_filename();
    if is_memory(file) {
        return Ok(StartLock { _held: None });
    }
    let path = format!("{}.lock", file.display());
    let lock_err = |source| DbError::Lock {
        path: path.clone(),
        source,
    };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Folder {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(lock_err)?;
    // Polled rather than blocking: a blocked thread could be the one the holder runs on.
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(StartLock { _held: Some(f) }),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
    }
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Parses a `sqlite:` URL into connection options: WAL journal and a busy timeout so that
/// concurrent requests wait for the writer instead of failing with "database is locked".
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, DbError> {
    if !url.starts_with("sqlite:") {
        return Err(DbError::BadUrl(format!(
            "'{url}' does not start with sqlite:"
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

/// Opens (creating file and folder when missing) the database and runs the migrations.
pub async fn open(url: &str) -> Result<SqlitePool, DbError> {
    let opts = connect_options(url)?;
    let file = opts.get_filename();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !is_memory(file) {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // A ping before every query is a round trip to the connection's thread for nothing: a
        // SQLite connection is a local file, and a broken one fails its query just the same.
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .map_err(DbError::Open)?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

fn is_memory(file: &Path) -> bool {
    file.as_os_str() == ":memory:"
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
