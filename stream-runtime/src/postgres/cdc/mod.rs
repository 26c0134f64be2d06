//! Change data capture from PostgreSQL: [`PostgresCdc`], a source of the
//! [`Change`]s logical replication gives on a slot, built on [`Lsn`], a
//! position in the write-ahead log, and [`pgoutput`], the decoding of the
//! `pgoutput` plugin's messages (protocol version 1).

mod assemble;
mod change;
mod conn;
mod lsn;
pub mod pgoutput;
mod pull;
mod quiet;
mod source;

pub use change::{Change, Op, Row};
pub use conn::ServerError;
pub use lsn::{Lsn, LsnError};
pub use source::{CdcError, PostgresCdc};
