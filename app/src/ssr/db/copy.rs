//! `server copy-db`: moves an installation from one database to another (SQLite to PostgreSQL
//! when it outgrows one machine, or back). Every row of every table is copied as it is —
//! encrypted values stay the same bytes, sealed with the same key and bound to the same row
//! ids — in one transaction on the target, and each table's count is checked before it commits.

use std::collections::BTreeSet;

use sqlx::{
    any::{AnyRow, AnyTypeInfoKind},
    Row, Value, ValueRef,
};

use super::{Backend, Db, DbError, Flag, Pool};

/// Every table, parents before children (the order the rows can be inserted in). A table the
/// migrations add must be added here: the copy refuses a source with a table it does not know.
pub const TABLES: [&str; 19] = [
    "settings",
    "users",
    "sessions",
    "sign_in_failures",
    "applications",
    "mail_servers",
    "mail_accounts",
    "oauth_states",
    "rate_events",
    "api_keys",
    "api_key_servers",
    "token_handouts",
    "webhooks",
    "webhook_events",
    "webhook_deliveries",
    "audit_events",
    "refresh_counts",
    "notices",
    "app_passwords",
];

/// Rows per INSERT: well under PostgreSQL's 65,535 parameters for the widest table.
const BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("--from: {0}")]
    From(DbError),
    #[error("--to: {0}")]
    To(DbError),
    #[error("--to: the target database is not empty ({table} has {rows} rows); copy-db only fills a new, empty database")]
    NotEmpty { table: String, rows: i64 },
    #[error("--from: the source has a table copy-db does not know: {0}")]
    UnknownTable(String),
    #[error("{table}.{column}: {message}")]
    Value {
        table: String,
        column: String,
        message: String,
    },
    #[error(
        "{table}: {source_rows} rows read but {target_rows} in the target; nothing was committed"
    )]
    Count {
        table: String,
        source_rows: i64,
        target_rows: i64,
    },
    #[error("{context}: {source}")]
    Query {
        context: String,
        #[source]
        source: sqlx::Error,
    },
}

fn query_err(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> CopyError {
    let context = context.into();
    move |source| CopyError::Query { context, source }
}

/// What a column holds, as the target declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
}

impl Kind {
    fn of_declared(declared: &str) -> Kind {
        let d = declared.to_ascii_lowercase();
        if d.contains("bool") {
            Kind::Bool
        } else if d.contains("int") {
            Kind::Int
        } else if d.contains("blob") || d.contains("bytea") {
            Kind::Bytes
        } else {
            Kind::Text
        }
    }
}

/// One value on its way, converted to what the target column takes.
enum Cell {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// The numbers of one copy, per table.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, i64)>,
}

/// Copies every row from `from` to `to`. Both are migrated to the current schema first (the
/// source as a start of this version would; the target from nothing); the target must be
/// empty. The source is read in one transaction, so the copy is of one moment.
pub async fn copy(from: &str, to: &str) -> Result<CopyReport, CopyError> {
    let source = super::open(from).await.map_err(CopyError::From)?;
    let target_backend = Backend::of(to).map_err(CopyError::To)?;
    let target = super::open(to).await.map_err(CopyError::To)?;
    let source_backend = Backend::of(from).map_err(CopyError::From)?;

    let known: BTreeSet<&str> = TABLES.iter().copied().collect();
    for table in table_names(&source, source_backend).await? {
        if !known.contains(table.as_str()) {
            return Err(CopyError::UnknownTable(table));
        }
    }
    for table in TABLES {
        let rows = count(&target, table).await?;
        if rows > 0 {
            return Err(CopyError::NotEmpty {
                table: table.to_string(),
                rows,
            });
        }
    }

    // Every table read in one transaction of the source: one consistent state even if
    // something still writes to it (which it should not: stop the instances first).
    let mut snapshot = source
        .begin()
        .await
        .map_err(query_err("--from: starting to read"))?;
    if source_backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *snapshot)
            .await
            .map_err(query_err("--from: starting to read"))?;
    }
    let mut tx = target
        .begin()
        .await
        .map_err(query_err("--to: starting the copy"))?;
    let mut report = CopyReport::default();
    for table in TABLES {
        let columns = target_columns(&mut tx, target_backend, table).await?;
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let list = names.join(", ");
        let rows: Vec<AnyRow> = sqlx::query(&format!("SELECT {list} FROM {table}"))
            .fetch_all(&mut *snapshot)
            .await
            .map_err(query_err(format!("--from: reading {table}")))?;
        for chunk in rows.chunks(BATCH) {
            let mut cells = Vec::with_capacity(chunk.len() * columns.len());
            for row in chunk {
                for (i, (name, kind)) in columns.iter().enumerate() {
                    cells.push(cell(row, i, *kind).map_err(|message| CopyError::Value {
                        table: table.to_string(),
                        column: name.clone(),
                        message,
                    })?);
                }
            }
            let tuples: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let params: Vec<String> = (1..=columns.len())
                        .map(|c| format!("${}", r * columns.len() + c))
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            let sql = format!("INSERT INTO {table} ({list}) VALUES {}", tuples.join(", "));
            let mut q = sqlx::query::<Db>(&sql);
            for c in cells {
                q = match c {
                    Cell::Int(v) => q.bind(v),
                    Cell::Bool(v) => q.bind(v),
                    Cell::Text(v) => q.bind(v),
                    Cell::Bytes(v) => q.bind(v),
                };
            }
            q.execute(&mut *tx)
                .await
                .map_err(query_err(format!("--to: writing {table}")))?;
        }
        let source_rows = rows.len() as i64;
        let target_rows = count(&mut *tx, table).await?;
        if target_rows != source_rows {
            return Err(CopyError::Count {
                table: table.to_string(),
                source_rows,
                target_rows,
            });
        }
        report.tables.push((table.to_string(), target_rows));
    }
    if target_backend == Backend::Postgres {
        // Rows came with their ids; the identity sequences must continue after them.
        for table in TABLES {
            let has_id: bool = sqlx::query_scalar::<_, Flag>(
                "SELECT EXISTS(SELECT 1 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id'
                   AND is_identity = 'YES')",
            )
            .bind(table)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_err("--to: reading the identity columns"))?
            .into();
            if has_id {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .execute(&mut *tx)
                .await
                .map_err(query_err(format!("--to: moving {table}'s id sequence")))?;
            }
        }
    }
    tx.commit()
        .await
        .map_err(query_err("--to: committing the copy"))?;
    snapshot
        .rollback()
        .await
        .map_err(query_err("--from: finishing the read"))?;
    Ok(report)
}

async fn count(db: impl super::Executor<'_>, table: &str) -> Result<i64, CopyError> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db)
        .await
        .map_err(query_err(format!("counting {table}")))
}

/// The application's tables of a database (not sqlx's bookkeeping or SQLite's own).
async fn table_names(pool: &Pool, backend: Backend) -> Result<Vec<String>, CopyError> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(pool)
        .await
        .map_err(query_err("--from: listing the tables"))
}

/// The target's columns of `table`, in order, with what each holds.
async fn target_columns(
    tx: &mut super::Tx<'_>,
    backend: Backend,
    table: &str,
) -> Result<Vec<(String, Kind)>, CopyError> {
    let sqlite_sql = format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid");
    let rows: Vec<(String, String)> = match backend {
        Backend::Sqlite => sqlx::query_as(&sqlite_sql),
        Backend::Postgres => sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table),
    }
    .fetch_all(&mut **tx)
    .await
    .map_err(query_err(format!("--to: reading {table}'s columns")))?;
    Ok(rows
        .into_iter()
        .map(|(name, declared)| (name, Kind::of_declared(&declared)))
        .collect())
}

/// Column `i` of `row`, as the target column of `kind` takes it.
fn cell(row: &AnyRow, i: usize, kind: Kind) -> Result<Cell, String> {
    let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
    let value = ValueRef::to_owned(&raw);
    if value.is_null() {
        return Ok(match kind {
            Kind::Int => Cell::Int(None),
            Kind::Bool => Cell::Bool(None),
            Kind::Text => Cell::Text(None),
            Kind::Bytes => Cell::Bytes(None),
        });
    }
    let found = value.type_info().kind();
    let wrong = || format!("expected {kind:?}, found {found:?}");
    let decoded = match (kind, found) {
        (Kind::Int, k) if k.is_integer() => {
            Cell::Int(Some(value.try_decode::<i64>().map_err(|e| e.to_string())?))
        }
        (Kind::Int, AnyTypeInfoKind::Bool) => Cell::Int(Some(i64::from(
            value.try_decode::<bool>().map_err(|e| e.to_string())?,
        ))),
        (Kind::Bool, k) if k.is_integer() || k == AnyTypeInfoKind::Bool => Cell::Bool(Some(
            value.try_decode::<Flag>().map_err(|e| e.to_string())?.0,
        )),
        (Kind::Text, AnyTypeInfoKind::Text) => Cell::Text(Some(
            value.try_decode::<String>().map_err(|e| e.to_string())?,
        )),
        (Kind::Bytes, AnyTypeInfoKind::Blob) => Cell::Bytes(Some(
            value.try_decode::<Vec<u8>>().map_err(|e| e.to_string())?,
        )),
        _ => return Err(wrong()),
    };
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_what_the_copy_binds() {
        assert_eq!(Kind::of_declared("INTEGER"), Kind::Int);
        assert_eq!(Kind::of_declared("bigint"), Kind::Int);
        assert_eq!(Kind::of_declared("BOOLEAN"), Kind::Bool);
        assert_eq!(Kind::of_declared("boolean"), Kind::Bool);
        assert_eq!(Kind::of_declared("BLOB"), Kind::Bytes);
        assert_eq!(Kind::of_declared("bytea"), Kind::Bytes);
        assert_eq!(Kind::of_declared("TEXT"), Kind::Text);
        assert_eq!(Kind::of_declared("text"), Kind::Text);
    }
}
