//! Sinks: where records go, written once per batch.

mod collect;
mod console;
mod file;
mod rejected;
mod side_output;

pub use collect::CollectSink;
pub use console::ConsoleSink;
pub use file::FileSink;
pub use rejected::Rejected;
pub use side_output::{SideOutput, To};

/// A destination for the pipeline's output, written one batch at a time.
///
/// Each sink partition is a Virtual Object that keeps the partition's
/// *committed offset* in Restate state. A write receives the offset committed
/// by the previous write and returns the new one; the runtime runs it in
/// `ctx.run` and stores the result in the same invocation. If the process dies
/// after writing but before the result is journaled, Restate runs the write
/// again with the same committed offset, so a sink that first discards
/// anything past that offset (as [`FileSink`] truncates its file) writes every
/// batch exactly once.
///
/// A write that fails after its attempts sends its whole batch to the
/// dead-letter output, and the partition's next write starts from what
/// [`after_failed_write`](Sink::after_failed_write) answers.
///
/// Writes are `async`, for sinks across the network; a sink that writes a
/// local file just writes `async fn write(..)`. A write that fails is
/// retried (`max_attempts`), then its batch goes to the dead-letter output;
/// a sink that can tell one record is to blame returns [`Rejected`], and
/// only that record goes there.
///
/// A sink of your own, exactly-once by the same scheme:
///
/// ```
/// use std::sync::Mutex;
/// use stream_runtime::Sink;
///
/// /// Lines kept in memory. A write first drops what a dead attempt left
/// /// past `committed`, so a retry writes its batch once.
/// struct Ledger(Mutex<Vec<String>>);
///
/// impl Sink<String> for Ledger {
///     async fn write(&self, _partition: u32, committed: u64, records: &[String]) -> std::io::Result<u64> {
///         let mut lines = self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?;
///         lines.truncate(committed as usize);
///         lines.extend_from_slice(records);
///         Ok(lines.len() as u64)
///     }
/// }
///
/// let ledger = Ledger(Mutex::new(Vec::new()));
/// let batch = ["to".to_string(), "be".to_string()];
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// runtime.block_on(async {
///     let committed = ledger.write(0, 0, &batch).await.unwrap();
///     // The same write again, as after a crash before its result was journaled:
///     assert_eq!(ledger.write(0, 0, &batch).await.unwrap(), committed);
/// });
/// assert_eq!(*ledger.0.lock().unwrap(), ["to", "be"]);
/// ```
pub trait Sink<T>: Send + Sync + 'static {
    /// The number of partitions, each written by one invocation at a time.
    fn partitions(&self) -> u32 {
        1
    }

    /// The partition `record` goes to, from the round of token `token`. By
    /// default the token's own (its id modulo the partitions), so a
    /// round's output is one write; [`SideOutput`] sends each record to
    /// a partition of the sink it is for.
    fn route(&self, token: u64, record: &T) -> u32 {
        let _ = record;
        (token % u64::from(self.partitions().max(1))) as u32
    }

    /// Writes `records` to `partition`, where `committed` is the offset the
    /// previous write returned (0 for the first). Returns the new offset.
    fn write(
        &self,
        partition: u32,
        committed: u64,
        records: &[T],
    ) -> impl std::future::Future<Output = std::io::Result<u64>> + Send;

    /// Where the next write of `partition` starts after a write from
    /// `committed` failed after its attempts (its batch went to the
    /// dead-letter output). By default `committed`: right for a sink whose
    /// write first discards what an earlier attempt left past `committed`
    /// (as [`FileSink`] truncates), since nothing of the failed batch stays.
    /// A sink that cannot take records back (a Kafka topic, when the write
    /// took several requests; a database whose commit landed but whose
    /// answer was lost) answers where the failed write's records end, so
    /// that the next write does not take them for its own.
    fn after_failed_write(
        &self,
        partition: u32,
        committed: u64,
    ) -> impl std::future::Future<Output = std::io::Result<u64>> + Send {
        let _ = partition;
        std::future::ready(Ok(committed))
    }
}

/// What the runtime asks of a sink partition, from its committed offset:
/// a write, or, after a write that failed after its attempts, where the
/// next one starts.
pub(crate) enum SinkCall<'a, T> {
    /// [`Sink::write`] of these records.
    Write(&'a [T]),
    /// [`Sink::after_failed_write`].
    AfterFailedWrite,
}

impl<T: Sync> SinkCall<'_, T> {
    /// This call of `sink`'s partition `partition`, from `committed`.
    pub(crate) async fn to<S: Sink<T>>(
        self,
        sink: &S,
        partition: u32,
        committed: u64,
    ) -> std::io::Result<u64> {
        match self {
            Self::Write(records) => sink.write(partition, committed, records).await,
            Self::AfterFailedWrite => sink.after_failed_write(partition, committed).await,
        }
    }
}
