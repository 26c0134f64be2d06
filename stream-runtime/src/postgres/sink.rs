//! The PostgreSQL sink (`PostgresSink`): inserts or upserts rows in the same
//! transaction as the partition's committed offset, and sends rows the server
//! refuses to the dead-letter output; `PostgresError` for setup failures.

use std::collections::HashMap;
use std::io;

use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Transaction};

use super::SqlValue;
use crate::sink::{Rejected, Sink};

/// The table that keeps each sink partition's committed offset.
const OFFSETS: &str = "stream_sink_offsets";
/// Parameters per statement, under PostgreSQL's limit of 65,535.
const MAX_PARAMS: usize = 30_000;

/// How a record becomes a row: one value per column, in order.
type ToRow<T> = fn(&T) -> Vec<SqlValue>;

/// Why a PostgreSQL sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The server could not be reached or refused the setup.
    #[error("PostgreSQL: {0}")]
    Server(String),
    /// A table or column name that is not a plain identifier.
    #[error("`{0}` is not a plain SQL identifier (letters, digits and `_`, not first a digit)")]
    Identifier(String),
}

/// Rows into a table of yours, exactly once: each write runs in one
/// transaction with its sink partition's committed offset (kept in
/// `stream_sink_offsets`), so a write retried after it committed finds the
/// offset already moved and changes nothing.
///
/// It inserts, or with [`upsert_on`](Self::upsert_on) upserts by key (a
/// running count per key is an upsert; within a batch the last record of a
/// key wins). The table is yours: create it, and give the columns and a
/// function from record to row.
///
/// A row the server refuses for its data (a constraint it breaks, a value
/// out of range: SQLSTATE classes 23 and 22) is found by writing the batch
/// row by row in a transaction that is rolled back; its record goes to the
/// dead-letter output with the server's message, and the rest of the batch
/// is written.
///
/// ```no_run
/// # async fn example() -> Result<(), stream_runtime::postgres::PostgresError> {
/// use stream_runtime::postgres::{PostgresSink, SqlValue};
///
/// // CREATE TABLE word_counts (word text PRIMARY KEY, count bigint NOT NULL)
/// let counts = PostgresSink::connect(
///     "host=127.0.0.1 port=5432 user=postgres",
///     "word_counts",
///     &["word", "count"],
///     |(word, count): &(String, u64)| vec![word.as_str().into(), (*count as i64).into()],
/// )
/// .await?
/// .upsert_on(&["word"]);
/// # let _ = counts;
/// # Ok(())
/// # }
/// ```
pub struct PostgresSink<T> {
    config: String,
    client: Mutex<Option<Client>>,
    table: String,
    columns: Vec<String>,
    key: Vec<String>,
    to_row: ToRow<T>,
}

fn identifier(name: &str) -> Result<String, PostgresError> {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain
        .then(|| name.to_owned())
        .ok_or_else(|| PostgresError::Identifier(name.to_owned()))
}

async fn open(config: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(config, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "the PostgreSQL connection ended");
        }
    });
    Ok(client)
}

impl<T> PostgresSink<T> {
    /// Connects with a libpq-style `config` (`host=… port=… user=…
    /// dbname=…`), and creates the offsets table if it is missing. Rows go
    /// to `table`, one value per column of `columns`, from `to_row`.
    pub async fn connect(
        config: &str,
        table: &str,
        columns: &[&str],
        to_row: ToRow<T>,
    ) -> Result<Self, PostgresError> {
        let table = identifier(table)?;
        let columns = columns
            .iter()
            .map(|c| identifier(c))
            .collect::<Result<Vec<_>, _>>()?;
        let client = open(config)
            .await
            .map_err(|e| PostgresError::Server(e.to_string()))?;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {OFFSETS} (sink text NOT NULL, part integer NOT NULL, \
                 committed bigint NOT NULL, PRIMARY KEY (sink, part))"
            ))
            .await
            .map_err(|e| PostgresError::Server(e.to_string()))?;
        Ok(Self {
            config: config.to_owned(),
            client: Mutex::new(Some(client)),
            table,
            columns,
            key: Vec::new(),
            to_row,
        })
    }

    /// Upserts by these key columns (which must be a unique key of the
    /// table) instead of inserting.
    pub fn upsert_on(mut self, key: &[&str]) -> Self {
        self.key = key.iter().map(|k| (*k).to_owned()).collect();
        self
    }

    /// The statement that writes `rows` rows.
    fn statement(&self, rows: usize) -> String {
        let width = self.columns.len();
        let values: Vec<String> = (0..rows)
            .map(|row| {
                let slots: Vec<String> = (1..=width)
                    .map(|c| format!("${}", row * width + c))
                    .collect();
                format!("({})", slots.join(", "))
            })
            .collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            self.table,
            self.columns.join(", "),
            values.join(", ")
        );
        if !self.key.is_empty() {
            let updates: Vec<String> = self
                .columns
                .iter()
                .filter(|c| !self.key.contains(c))
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect();
            let action = if updates.is_empty() {
                "NOTHING".to_owned()
            } else {
                format!("UPDATE SET {}", updates.join(", "))
            };
            sql += &format!(" ON CONFLICT ({}) DO {action}", self.key.join(", "));
        }
        sql
    }

    /// The rows of a batch, each with its record's index; with a key, the
    /// last row of each key.
    fn rows(&self, records: &[T]) -> Vec<(usize, Vec<SqlValue>)> {
        let rows: Vec<(usize, Vec<SqlValue>)> =
            records.iter().map(self.to_row).enumerate().collect();
        if self.key.is_empty() {
            return rows;
        }
        let key_at: Vec<usize> = self
            .key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| c == k))
            .collect();
        let mut last: HashMap<String, usize> = HashMap::new();
        for (index, row) in &rows {
            let identity: Vec<String> = key_at
                .iter()
                .map(|at| row.get(*at).map(SqlValue::identity).unwrap_or_default())
                .collect();
            last.insert(identity.join("\u{1f}"), *index);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let mut rows: Vec<Option<(usize, Vec<SqlValue>)>> = rows.into_iter().map(Some).collect();
        keep.into_iter().filter_map(|i| rows[i].take()).collect()
    }

    /// Writes `rows` in `transaction`, in as few statements as the
    /// parameter limit allows.
    async fn insert(
        &self,
        transaction: &Transaction<'_>,
        rows: &[(usize, Vec<SqlValue>)],
    ) -> Result<(), tokio_postgres::Error> {
        let per_statement = (MAX_PARAMS / self.columns.len().max(1)).max(1);
        for chunk in rows.chunks(per_statement) {
            let params: Vec<&(dyn ToSql + Sync)> = chunk
                .iter()
                .flat_map(|(_, row)| row)
                .map(|value| value as &(dyn ToSql + Sync))
                .collect();
            transaction
                .execute(&self.statement(chunk.len()), &params)
                .await?;
        }
        Ok(())
    }

    /// After the server refused a batch for its data: the first row that it
    /// refuses alone, written one by one in a transaction rolled back after.
    async fn refused_row(
        &self,
        client: &mut Client,
        rows: &[(usize, Vec<SqlValue>)],
    ) -> io::Result<Option<Rejected>> {
        let transaction = client.transaction().await.map_err(failed)?;
        for row in rows {
            if let Err(error) = self.insert(&transaction, std::slice::from_ref(row)).await {
                if !refused(&error) {
                    return Err(failed(error));
                }
                let reason = format!(
                    "PostgreSQL refused the row for {}: {}",
                    self.table,
                    reason(&error)
                );
                return Ok(Some(Rejected::new(row.0, reason)));
            }
        }
        Ok(None)
    }
}

/// Whether the server refused the data itself (SQLSTATE class 22, a data
/// exception, or 23, a constraint violation), which no retry mends.
fn refused(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}

/// The server's message, with its detail when it gives one.
fn reason(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => error.to_string(),
    }
}

fn failed(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("PostgreSQL: {error}"))
}

impl<T: Send + Sync + 'static> Sink<T> for PostgresSink<T> {
    /// Writes the batch and moves the partition's committed offset in one
    /// transaction; a batch whose offset already moved is not written again.
    async fn write(&self, partition: u32, committed: u64, records: &[T]) -> io::Result<u64> {
        let written = committed + records.len() as u64;
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(open(&self.config).await.map_err(failed)?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(failed("no connection"));
        };
        let transaction = client.transaction().await.map_err(failed)?;
        let part = i32::try_from(partition).map_err(failed)?;
        let stored: Option<i64> = transaction
            .query_opt(
                &format!(
                    "SELECT committed FROM {OFFSETS} WHERE sink = $1 AND part = $2 FOR UPDATE"
                ),
                &[&self.table, &part],
            )
            .await
            .map_err(failed)?
            .map(|row| row.get(0));
        if records.is_empty() {
            // Where the partition's rows end: past `committed` when a
            // write that failed after its attempts had committed.
            let stored = stored.map_or(0, |stored| u64::try_from(stored).unwrap_or(0));
            return Ok(stored.max(committed));
        }
        if stored.is_some_and(|stored| u64::try_from(stored).unwrap_or(0) >= written) {
            return Ok(written); // committed by an earlier attempt
        }
        let rows = self.rows(records);
        if let Err(error) = self.insert(&transaction, &rows).await {
            drop(transaction);
            if refused(&error) {
                if let Some(rejected) = self.refused_row(client, &rows).await? {
                    return Err(rejected.into());
                }
            }
            return Err(failed(error));
        }
        let offset = i64::try_from(written).map_err(failed)?;
        transaction
            .execute(
                &format!(
                    "INSERT INTO {OFFSETS} (sink, part, committed) VALUES ($1, $2, $3) \
                     ON CONFLICT (sink, part) DO UPDATE SET committed = EXCLUDED.committed"
                ),
                &[&self.table, &part, &offset],
            )
            .await
            .map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
        Ok(written)
    }

    /// Where the partition's rows end: past `committed` when the failed
    /// write's transaction committed but its answer was lost.
    async fn after_failed_write(&self, partition: u32, committed: u64) -> io::Result<u64> {
        self.write(partition, committed, &[]).await
    }
}
