//! The reference model of a pipeline, run in this process with no server
//! (`run.rs`), behind the interface the test driver drives (`drive.rs`).

mod drive;
mod run;

pub(crate) use drive::Drive;
pub use drive::DriverError;
pub(crate) use run::model;
