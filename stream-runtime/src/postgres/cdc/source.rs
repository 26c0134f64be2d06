//! [`PostgresCdc`]: the change data capture source.

use std::io;
use std::time::Duration;

use super::assemble::Mark;
use super::change::{typed, Change, Op};
use super::conn::{Replication, ServerError};
use super::pull::{pull, Slot};
use crate::source::{EndsBefore, Gone, Pulled, PushLimits, Source, DEFAULT_KEY_RETENTION};

/// How long a pull waits for the stream to say more before it answers
/// what it has: the longest a change waits in PostgreSQL once the stream is
/// quiet, and what an empty look costs a token.
const QUIET: Duration = Duration::from_millis(200);

/// Why a CDC source cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdcError {
    /// The connection string does not parse.
    #[error("the PostgreSQL connection string does not parse: {0}")]
    Config(String),
    /// A slot or publication name PostgreSQL would not take as it is.
    #[error("`{0}` is not a slot or publication name: use lower-case letters, digits and `_`")]
    Name(String),
}

/// The changes to a PostgreSQL database's published tables, from logical
/// replication (`pgoutput`) on a replication slot, as [`Change`]s in
/// commit order: Flink CDC's `postgres-cdc` and Debezium's PostgreSQL
/// connector, with no Kafka and no Debezium.
///
/// The pipeline's log of the slot (`{name}Log/0`) pulls what is new when a
/// token has read all it holds, over a replication connection started at
/// the position it has durably appended up to, and confirms that position
/// to the slot first: PostgreSQL keeps the WAL of every change the log has
/// not yet made durable, and a crash of the endpoint, the Restate server or
/// PostgreSQL loses and repeats none. One split, as a slot's stream is one
/// ordered stream; to read in parallel, give each group of tables a
/// publication and a slot of its own, one source each ([`Union`] them).
///
/// - **Snapshot, then the stream.** On its first pull the source creates
///   the publication (`FOR TABLE` the [`tables`](PostgresCdc::tables)
///   given) if it does not exist, then the slot, exporting its snapshot:
///   every row of the published tables as of the slot's start comes first,
///   as [`Op::Read`] changes, then every change after it. The snapshot is
///   one pull, so it must fit in half the pipeline's `max_call_bytes`;
///   a larger one stops the pipeline saying so (raise `max_call_bytes`, or
///   go without, [`snapshot(false)`](PostgresCdc::snapshot)). With the
///   snapshot, a slot that exists when the pipeline first reads is made
///   anew; without, it is read from its confirmed position.
/// - **Gone.** A slot that was dropped after the pipeline read from it, or
///   one PostgreSQL invalidated (its WAL removed), stops the pipeline with
///   a message that names the slot and the position it had read to.
/// - **Quiet databases.** With no change, the split waits as any endless
///   split does; with `event_time`, it goes idle after the watermarks' idle
///   timeout, so it does not hold the watermark back.
///
/// [`Union`]: crate::source::Union
///
/// ```no_run
/// use stream_runtime::postgres::cdc::{Change, Op, PostgresCdc};
/// use stream_runtime::{CollectSink, Pipeline};
///
/// let orders = PostgresCdc::new("host=127.0.0.1 user=postgres dbname=shop", "orders_slot", "orders_pub")
///     .expect("a connection string and two names")
///     .tables(["orders"]);
/// let pipeline = Pipeline::named("OrderChanges")
///     .source(orders)
///     .filter(|change: &Change| change.op != Op::Delete)
///     .sink(CollectSink::<Change>::new());
/// # let _ = pipeline;
/// ```
#[derive(Debug, Clone)]
pub struct PostgresCdc {
    config: tokio_postgres::Config,
    slot: String,
    publication: String,
    tables: Vec<String>,
    bound: u64,
    snapshot: bool,
}

impl PostgresCdc {
    /// The changes `slot` gives for `publication`, on the database the
    /// libpq-style `connection` string names (a user with the
    /// `REPLICATION` attribute, on a server with `wal_level = logical`).
    pub fn new(connection: &str, slot: &str, publication: &str) -> Result<Self, CdcError> {
        let config = connection
            .parse::<tokio_postgres::Config>()
            .map_err(|e| CdcError::Config(e.to_string()))?;
        for name in [slot, publication] {
            let plain = !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !plain {
                return Err(CdcError::Name(name.to_owned()));
            }
        }
        Ok(Self {
            config,
            slot: slot.to_owned(),
            publication: publication.to_owned(),
            tables: Vec::new(),
            bound: crate::source::DEFAULT_PUSH_BOUND,
            snapshot: true,
        })
    }

    /// Creates the publication for these tables if it does not exist.
    pub fn tables<T: Into<String>>(mut self, tables: impl IntoIterator<Item = T>) -> Self {
        self.tables = tables.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the first pull takes a snapshot of the published tables
    /// (the default). Without one, the stream starts at the slot's
    /// creation, or, for a slot that exists, at its confirmed position.
    pub fn snapshot(mut self, snapshot: bool) -> Self {
        self.snapshot = snapshot;
        self
    }

    /// The first pull: the publication made if missing, then the slot
    /// (made anew with a snapshot of the published tables, whose rows are
    /// the pull's records), and the mark the stream starts at.
    async fn prepare(&self, bytes: usize) -> io::Result<Pulled> {
        let (client, _closing) = self.client().await?;
        self.prepare_with(&client, bytes).await
    }

    /// A plain connection to the database, closed when the guard drops.
    async fn client(&self) -> io::Result<(tokio_postgres::Client, Closing)> {
        let (client, connection) = self
            .config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(io::Error::other)?;
        Ok((client, Closing(tokio::spawn(connection))))
    }

    async fn prepare_with(
        &self,
        client: &tokio_postgres::Client,
        bytes: usize,
    ) -> io::Result<Pulled> {
        let published = client
            .query_opt(
                "SELECT 1 FROM pg_publication WHERE pubname = $1",
                &[&self.publication],
            )
            .await
            .map_err(io::Error::other)?;
        if published.is_none() {
            if self.tables.is_empty() {
                let why = format!(
                    "publication `{}` does not exist: create it, or name the tables to publish",
                    self.publication
                );
                return Err(EndsBefore::new(0, why).into());
            }
            let tables: Vec<String> = self.tables.iter().map(|t| quote_table(t)).collect();
            let create = format!(
                "CREATE PUBLICATION {} FOR TABLE {}",
                self.publication,
                tables.join(", ")
            );
            client
                .batch_execute(&create)
                .await
                .map_err(io::Error::other)?;
        }
        let confirmed = client
            .query_opt(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot],
            )
            .await
            .map_err(io::Error::other)?;
        if let Some(row) = confirmed {
            if !self.snapshot {
                let lsn = row
                    .get::<_, Option<String>>(0)
                    .unwrap_or_else(|| "0/0".to_owned());
                let mark = Mark {
                    lsn: lsn.parse().map_err(io::Error::other)?,
                    skip: 0,
                };
                return Ok(Pulled {
                    records: Vec::new(),
                    mark: mark.to_string(),
                });
            }
            // The pipeline has read nothing yet: a slot under the name (a
            // first pull's that failed before its snapshot was kept, or one
            // made by hand) is made anew, at the snapshot.
            client
                .execute("SELECT pg_drop_replication_slot($1)", &[&self.slot])
                .await
                .map_err(io::Error::other)?;
        }
        let mut replication = Replication::connect(&self.config).await?;
        let export = if self.snapshot {
            "EXPORT_SNAPSHOT"
        } else {
            "NOEXPORT_SNAPSHOT"
        };
        let create = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {export}",
            self.slot
        );
        let rows = replication.query(&create).await?;
        let column = |i: usize| rows.first().and_then(|row| row.get(i).cloned().flatten());
        let point = column(1)
            .ok_or_else(|| io::Error::other("CREATE_REPLICATION_SLOT answered no position"))?;
        let mark = Mark {
            lsn: point.parse().map_err(io::Error::other)?,
            skip: 0,
        };
        let records = match column(2) {
            Some(snapshot) if self.snapshot => {
                let read = self.read_snapshot(client, &snapshot, &point, bytes).await;
                if read.is_err() {
                    // Its snapshot dies with this connection: the next try
                    // makes the slot anew (out of the failed transaction).
                    let _ = client.batch_execute("ROLLBACK").await;
                    let _ = client
                        .execute("SELECT pg_drop_replication_slot($1)", &[&self.slot])
                        .await;
                }
                read?
            }
            _ => Vec::new(),
        };
        drop(replication);
        Ok(Pulled {
            records,
            mark: mark.to_string(),
        })
    }

    /// Every row of the published tables as of the slot's `snapshot`, as
    /// [`Op::Read`] changes at the slot's start `point`.
    async fn read_snapshot(
        &self,
        client: &tokio_postgres::Client,
        snapshot: &str,
        point: &str,
        bytes: usize,
    ) -> io::Result<Vec<serde_json::Value>> {
        let sql = |e: tokio_postgres::Error| io::Error::other(e);
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
            ))
            .await
            .map_err(sql)?;
        let tables = client
            .query(
                "SELECT schemaname::text, tablename::text FROM pg_publication_tables \
                 WHERE pubname = $1 ORDER BY 1, 2",
                &[&self.publication],
            )
            .await
            .map_err(sql)?;
        let now = crate::time::wall_clock();
        let (mut records, mut used) = (Vec::new(), 0);
        for table in tables {
            let (schema, name): (String, String) = (table.get(0), table.get(1));
            let quoted = quote_table(&format!("{schema}.{name}"));
            let described = client
                .prepare(&format!("SELECT * FROM {quoted} LIMIT 0"))
                .await
                .map_err(sql)?;
            let columns: Vec<(String, u32)> = described
                .columns()
                .iter()
                .map(|c| (c.name().to_owned(), c.type_().oid()))
                .collect();
            // The server's text form, as the stream sends it, a thousand
            // rows at a time: a table too large for the pull stops early.
            let declare =
                format!("DECLARE snapshot_rows NO SCROLL CURSOR FOR SELECT * FROM {quoted}");
            client.batch_execute(&declare).await.map_err(sql)?;
            loop {
                let fetched = client
                    .simple_query("FETCH 1000 FROM snapshot_rows")
                    .await
                    .map_err(sql)?;
                let mut any = false;
                for message in fetched {
                    let tokio_postgres::SimpleQueryMessage::Row(row) = message else {
                        continue;
                    };
                    any = true;
                    let mut after = super::change::Row::new();
                    for (i, (column, type_id)) in columns.iter().enumerate() {
                        let value = row
                            .get(i)
                            .map_or(serde_json::Value::Null, |text| typed(*type_id, text));
                        after.insert(column.clone(), value);
                    }
                    let change = Change {
                        table: format!("{schema}.{name}"),
                        op: Op::Read,
                        before: None,
                        after: Some(after),
                        lsn: point.to_owned(),
                        commit_millis: now,
                    };
                    let value = serde_json::to_value(change).map_err(io::Error::other)?;
                    used += crate::push::encoded_len(&value);
                    if used > bytes {
                        let why = format!(
                            "the snapshot of publication `{}` is larger than one pull takes ({bytes} \
                             bytes, half the pipeline's `max_call_bytes`): raise `max_call_bytes`, or \
                             start without a snapshot (`.snapshot(false)`)",
                            self.publication
                        );
                        return Err(EndsBefore::new(0, why).into());
                    }
                    records.push(value);
                }
                if !any {
                    break;
                }
            }
            client
                .batch_execute("CLOSE snapshot_rows")
                .await
                .map_err(sql)?;
        }
        client.batch_execute("COMMIT").await.map_err(sql)?;
        Ok(records)
    }

    /// A pull after `mark`.
    async fn pull_after(&self, mark: Mark, max: usize, bytes: usize) -> io::Result<Pulled> {
        let replication = Replication::connect(&self.config).await?;
        let slot = Slot {
            name: &self.slot,
            publication: &self.publication,
        };
        match pull(replication, &slot, mark, (max, bytes), QUIET).await {
            Ok((records, mark)) => Ok(Pulled {
                records,
                mark: mark.to_string(),
            }),
            Err(error) => Err(self.gone(error, mark).await),
        }
    }

    /// A slot that no longer exists, or no longer has the changes after
    /// `mark`, stops the pipeline: no retry brings them back.
    async fn gone(&self, error: io::Error, mark: Mark) -> io::Error {
        let Some(server) = ServerError::find(&error) else {
            return error;
        };
        // 42704: undefined object; 55000: object not in prerequisite state
        // (a slot invalidated because its WAL was removed). Both have other
        // causes (a publication missing, `wal_level`): the slot's own row
        // says whether it is gone.
        if server.code != "42704" && server.code != "55000" {
            return error;
        }
        if !self.slot_is_gone().await.unwrap_or(false) {
            return error;
        }
        let why = format!(
            "replication slot `{}` cannot give the changes after {} that the pipeline has not read \
             ({}): it was dropped, or PostgreSQL removed their WAL. The changes in between are \
             lost to this pipeline; start it under a new name with a new slot",
            self.slot, mark.lsn, server.message
        );
        EndsBefore::new(0, why).into()
    }
}

impl PostgresCdc {
    /// Whether the slot no longer exists, or PostgreSQL removed WAL it
    /// needs (`wal_status = 'lost'`).
    async fn slot_is_gone(&self) -> io::Result<bool> {
        let (client, _closing) = self.client().await?;
        let row = client
            .query_opt(
                "SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot],
            )
            .await
            .map_err(io::Error::other)?;
        Ok(row.is_none_or(|row| row.get::<_, String>(0) == "lost"))
    }
}

/// Closes a plain connection when dropped.
struct Closing(tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `schema.table` or `table`, quoted as identifiers.
fn quote_table(table: &str) -> String {
    table
        .split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

impl Source for PostgresCdc {
    type Item = Change;

    async fn read(&self, _split: u32, position: u64, max: usize) -> io::Result<Vec<Change>> {
        let until = position.saturating_add(max as u64);
        Err(Gone::new(
            until,
            "a change is kept in the slot's log only until it is leased",
        )
        .into())
    }

    async fn available(&self, _split: u32, _position: u64, _max: usize) -> io::Result<usize> {
        Ok(0)
    }

    fn is_bounded(&self) -> bool {
        false
    }

    fn pushed(&self, _split: u32) -> Option<PushLimits> {
        Some(PushLimits {
            bound: self.bound,
            key_retention: DEFAULT_KEY_RETENTION,
            pulled: true,
        })
    }

    fn decode_pushed(&self, _split: u32, record: &serde_json::Value) -> Result<Change, String> {
        Change::deserialize(record).map_err(|e| e.to_string())
    }

    async fn pull(
        &self,
        _split: u32,
        mark: Option<String>,
        max: usize,
        bytes: usize,
    ) -> io::Result<Pulled> {
        let mark = match mark {
            None => return self.prepare(bytes).await,
            Some(mark) => mark.parse::<Mark>().map_err(io::Error::other)?,
        };
        self.pull_after(mark, max, bytes).await
    }
}

use serde::Deserialize as _;
