//! What the test driver drives: a pipeline's model with its record types
//! hidden ([`Drive`]), what a run counted, and why a run stopped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::lookup::{Answered, Call};
use crate::protocol::DeadLetter;
use crate::time::Millis;

/// What a step of the model answers, boxed so that [`Drive`] is a trait
/// object over every pipeline's record types.
pub(crate) type Step<'a, T> = Pin<Box<dyn Future<Output = Result<T, DriverError>> + Send + 'a>>;

/// A pipeline's model, its record types hidden.
pub(crate) trait Drive: Send {
    /// Reads and processes up to `records` source records.
    fn read(&mut self, records: usize) -> Step<'_, usize>;
    /// Whether every split of the source has ended.
    fn ended(&self) -> bool;
    /// Moves the watermark to `to` and fires what it reaches.
    fn advance_watermark(&mut self, to: Millis) -> Step<'_, ()>;
    /// Moves the wall clock to `now` and fires the processing-time timers
    /// it completes.
    fn advance_clock(&mut self, now: Millis) -> Step<'_, ()>;
    /// What the run counted so far.
    fn report(&self) -> Report;
    /// Answers enrichment stages' lookups with `answer`.
    fn answer_lookups(&mut self, answer: Answerer);
}

/// What answers the lookups of a driven pipeline's enrichment stages.
pub(crate) type Answerer = Arc<dyn Fn(&Call) -> Answered + Send + Sync>;

/// What a run counted: the driver's view of a server's `status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Report {
    pub records_in: u64,
    pub records_out: u64,
    pub late: Vec<serde_json::Value>,
    pub dead_letters: Vec<DeadLetter>,
    pub watermark: Option<Millis>,
    pub pending_timers: u64,
}

/// Why the driver stopped: the source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The source failed to read `split` at `position`.
    #[error("reading split {split} at {position}: {error}")]
    Read {
        /// The split.
        split: u32,
        /// The position.
        position: u64,
        /// The source's error.
        error: std::io::Error,
    },
}
