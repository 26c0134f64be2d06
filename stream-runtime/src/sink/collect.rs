//! `CollectSink`: collects records in memory, in a buffer its clones share,
//! for tests and examples.

use std::sync::{Arc, Mutex};

use super::Sink;

/// Collects records in memory, for tests and examples that want to look at
/// the output. Clones share one buffer.
///
/// Exactly-once within the process: the committed offset is the number of
/// records, and a retried write first drops what an earlier attempt left.
///
/// ```
/// use stream_runtime::{CollectSink, Pipeline, Sequence};
///
/// let out = CollectSink::new();
/// let pipeline = Pipeline::named("Evens")
///     .source(Sequence::new().take(10))
///     .filter(|n| n % 2 == 0)
///     .sink(out.clone()); // the clone shares the buffer: read it from `out`
/// # let _ = pipeline;
/// assert!(out.is_empty()); // until the pipeline runs on a server
/// ```
#[derive(Debug)]
pub struct CollectSink<T> {
    records: Arc<Mutex<Vec<T>>>,
}

impl<T> Clone for CollectSink<T> {
    fn clone(&self) -> Self {
        Self {
            records: Arc::clone(&self.records),
        }
    }
}

impl<T> Default for CollectSink<T> {
    fn default() -> Self {
        Self {
            records: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl<T: Clone> CollectSink<T> {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything collected so far, in write order.
    pub fn records(&self) -> Vec<T> {
        self.lock().clone()
    }

    /// The number of records collected so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was collected yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Clone + Send + Sync + 'static> Sink<T> for CollectSink<T> {
    async fn write(&self, _partition: u32, committed: u64, records: &[T]) -> std::io::Result<u64> {
        let mut all = self.lock();
        let keep = usize::try_from(committed)
            .unwrap_or(usize::MAX)
            .min(all.len());
        all.truncate(keep);
        all.extend_from_slice(records);
        Ok(all.len() as u64)
    }
}
