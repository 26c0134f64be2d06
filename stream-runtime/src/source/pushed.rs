//! `Pushed`: records sent to the pipeline over HTTP, with no broker.

use std::io;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{Gone, Source};

/// How many records a split's log holds unread, by default, before
/// `append` answers 429.
pub const DEFAULT_PUSH_BOUND: u64 = 100_000;

/// How long a batch's key is remembered, by default: a batch sent again
/// with the same key within it appends nothing again (the same day that
/// Restate keeps an `idempotency-key`'s answer).
pub const DEFAULT_KEY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The limits of a split's log of pushed records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushLimits {
    /// The records a split's log holds unread before it refuses more.
    pub bound: u64,
    /// How long a batch's key is remembered.
    pub key_retention: Duration,
    /// The log is fed by the source itself ([`Source::pull`], a CDC slot),
    /// not by producers: `append` refuses batches for it.
    pub pulled: bool,
}

/// What a [`Source::pull`] read: records, and the mark the next pull
/// starts from (the source's own position, kept durably by the log).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pulled {
    /// The records, in order.
    pub records: Vec<serde_json::Value>,
    /// Where the next pull starts.
    pub mark: String,
}

/// A source whose records are pushed to the pipeline: producers call
/// `{name}Ingest/append` with a batch of records and an idempotency key,
/// the batch is appended durably to a log kept in Restate state (one per
/// split), and the answer comes once it is. The pipeline reads each
/// split's log by position, as it reads a Kafka partition, and the log
/// drops what the pipeline has leased.
///
/// - **Once per key.** A batch sent again with a key the split has seen
///   (within [`key_retention`](Pushed::key_retention)) appends nothing and
///   gets the first answer, so a producer retries every request it did not
///   see answered.
/// - **Back-pressure.** Once a split holds [`bound`](Pushed::bound) records
///   unread, `append` answers 429 with how long to wait.
/// - **Checked.** A batch with a record that does not decode as `T` is
///   refused whole (400, naming the record), and nothing of it appended.
///
/// ```sh
/// curl localhost:8080/WordCountIngest/append \
///   --json '{"key": "batch-1", "records": ["to be or not", "to be"]}'
/// # {"split":0,"first":0,"count":2,"again":false}
/// ```
///
/// ```
/// use stream_runtime::source::Pushed;
/// use stream_runtime::{pipeline, CollectSink};
///
/// pipeline! {
///     WordCount:
///     source(Pushed::<String>::new().with_splits(2).bound(50_000))
///     |> flat_map(|line| line.split_whitespace().map(|w| (w.to_owned(), 1u64)).collect::<Vec<_>>())
///     |> key_by(|(word, _)| word.clone())
///     |> reduce(|(word, a), (_, b)| (word, a + b))
///     |> sink(CollectSink::<(String, u64)>::new())
/// }
/// ```
pub struct Pushed<T> {
    splits: u32,
    limits: PushLimits,
    record: PhantomData<fn() -> T>,
}

impl<T> Pushed<T> {
    /// A log of one split, with the default bound and key retention.
    pub fn new() -> Self {
        Self {
            splits: 1,
            limits: PushLimits {
                bound: DEFAULT_PUSH_BOUND,
                key_retention: DEFAULT_KEY_RETENTION,
                pulled: false,
            },
            record: PhantomData,
        }
    }

    /// `splits` logs (at least one), read in parallel; a batch goes to
    /// the one its key hashes to, or to the one it names.
    pub fn with_splits(mut self, splits: u32) -> Self {
        self.splits = splits.max(1);
        self
    }

    /// Refuses batches (429) while a split holds `records` unread (at
    /// least 1). A batch is taken whole when the split holds none unread,
    /// however large.
    pub fn bound(mut self, records: u64) -> Self {
        self.limits.bound = records.max(1);
        self
    }

    /// Remembers each batch's key for `retention`.
    pub fn key_retention(mut self, retention: Duration) -> Self {
        self.limits.key_retention = retention;
        self
    }
}

impl<T> Default for Pushed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Pushed<T> {
    fn clone(&self) -> Self {
        Self {
            splits: self.splits,
            limits: self.limits,
            record: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Pushed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushed")
            .field("splits", &self.splits)
            .field("limits", &self.limits)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> Source for Pushed<T> {
    type Item = T;

    fn splits(&self) -> u32 {
        self.splits
    }

    /// Pushed records come with their lease (see [`Source::pushed`]);
    /// once leased they are in the round's journal and no longer in the
    /// log, so there is nothing to read again by position.
    async fn read(&self, _split: u32, position: u64, max: usize) -> io::Result<Vec<T>> {
        let until = position.saturating_add(max as u64);
        let reason = "a pushed record is kept in its split's log only until it is leased";
        Err(Gone::new(until, reason).into())
    }

    async fn available(&self, _split: u32, _position: u64, _max: usize) -> io::Result<usize> {
        Ok(0)
    }

    fn is_bounded(&self) -> bool {
        false
    }

    fn pushed(&self, _split: u32) -> Option<PushLimits> {
        Some(self.limits)
    }

    fn decode_pushed(&self, _split: u32, record: &serde_json::Value) -> Result<T, String> {
        T::deserialize(record).map_err(|error| error.to_string())
    }
}
