//! The CDC row: sequence numbers inserted into a PostgreSQL table while the
//! endpoint, restate-server and PostgreSQL itself are killed, read by
//! change data capture into the running word count.

use std::time::Duration;

use stream_runtime::postgres::cdc::{Change, PostgresCdc};

use super::connectors::Connectors;

/// Rows per inserting transaction.
const TRANSACTION: u64 = 250;
/// How long the writer waits after a failed transaction (PostgreSQL down).
const RETRY: Duration = Duration::from_millis(200);
/// How long it waits between transactions, so that its writing spans the
/// kills (and PostgreSQL's restarts cut some of its transactions).
const PACE: Duration = Duration::from_millis(40);

impl Connectors {
    /// The table the CDC row's rows go to.
    fn cdc_table(&self, pipeline: &str) -> String {
        self.input(pipeline)
    }

    /// The CDC row's source: the table's changes, on a slot and a
    /// publication of the run's own.
    pub(super) fn cdc_source(&self, pipeline: &str) -> Result<PostgresCdc, String> {
        let table = self.cdc_table(pipeline);
        let postgres = self
            .postgres
            .as_deref()
            .ok_or("no PostgreSQL given (--postgres)")?;
        let source = PostgresCdc::new(postgres, &format!("{table}_slot"), &format!("{table}_pub"))
            .map_err(|e| e.to_string())?;
        Ok(source.tables([table]))
    }

    /// Makes the CDC row's table.
    pub(super) async fn create_cdc_table(&self, pipeline: &str) -> Result<(), String> {
        let db = self.database().await?;
        let table = self.cdc_table(pipeline);
        db.batch_execute(&format!("CREATE TABLE {table} (n bigint PRIMARY KEY)"))
            .await
            .map_err(|e| format!("create {table}: {e}"))
    }

    /// Inserts `0..records` into the CDC row's table, a transaction at a
    /// time, each again until it commits: `ON CONFLICT DO NOTHING`, so a
    /// transaction that committed before its answer was lost inserts
    /// nothing (and makes no change) the second time. Answers how many
    /// transactions were tried again.
    pub async fn write_cdc_rows(self, pipeline: String, records: u64) -> Result<u64, String> {
        let table = self.cdc_table(&pipeline);
        let mut again = 0;
        let mut db = None;
        let mut first = 0;
        while first < records {
            let end = (first + TRANSACTION).min(records);
            let client = match db.take() {
                Some(client) => client,
                None => match self.database().await {
                    Ok(client) => client,
                    Err(_) => {
                        again += 1;
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                },
            };
            let insert = format!(
                "INSERT INTO {table} SELECT generate_series({first}, {}) ON CONFLICT DO NOTHING",
                end - 1
            );
            match client.batch_execute(&insert).await {
                Ok(()) => {
                    db = Some(client);
                    first = end;
                    tokio::time::sleep(PACE).await;
                }
                Err(_) => {
                    again += 1;
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        Ok(again)
    }
}

/// The sequence number a change inserted.
pub(super) fn inserted(change: &Change) -> u64 {
    let n = change.after.as_ref().and_then(|row| row.get("n")?.as_u64());
    n.unwrap_or_else(|| panic!("not an inserted row: {change:?}"))
}
