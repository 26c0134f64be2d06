//! The parts of PostgreSQL's logical replication that change data capture
//! reads: [`Lsn`], a position in the write-ahead log, and [`pgoutput`],
//! the decoding of the `pgoutput` plugin's messages (protocol version 1).
//! The CDC source is built on them.

mod lsn;
pub mod pgoutput;

pub use lsn::{Lsn, LsnError};
