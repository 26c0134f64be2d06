//! `ConsoleSink`: prints each record as a line of JSON on standard output
//! (at-least-once).

use std::io::Write;

use serde::Serialize;

use super::Sink;

/// Prints each record as a line of JSON on standard output.
///
/// At-least-once: a write retried after a crash prints its batch again,
/// since printed lines cannot be taken back.
///
/// ```
/// use stream_runtime::{ConsoleSink, Pipeline, Sequence};
///
/// let pipeline = Pipeline::named("Squares")
///     .source(Sequence::new().take(5))
///     .map(|n| n * n)
///     .sink(ConsoleSink::new()); // 0, 1, 4, 9, 16, a line each
/// # let _ = pipeline;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSink;

impl ConsoleSink {
    /// A sink printing to standard output.
    pub fn new() -> Self {
        Self
    }
}

impl<T: Serialize + Sync> Sink<T> for ConsoleSink {
    async fn write(&self, _partition: u32, committed: u64, records: &[T]) -> std::io::Result<u64> {
        let mut out = std::io::stdout().lock();
        for record in records {
            serde_json::to_writer(&mut out, record)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(committed + records.len() as u64)
    }
}
