//! PostgreSQL (feature `postgres`): [`PostgresSink`] writes rows in the
//! same transaction as its partition's committed offset, so a retried
//! write is a no-op; [`cdc`] decodes the logical replication stream that
//! change data capture reads.

pub mod cdc;
mod sink;
mod value;

pub use sink::{PostgresError, PostgresSink};
pub use value::SqlValue;
