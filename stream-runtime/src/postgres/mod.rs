//! PostgreSQL (feature `postgres`): [`PostgresSink`] writes rows in the
//! same transaction as its partition's committed offset, so a retried
//! write is a no-op.

mod sink;
mod value;

pub use sink::{PostgresError, PostgresSink};
pub use value::SqlValue;
