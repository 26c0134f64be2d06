//! How an enrichment stage makes its calls (Flink's `AsyncDataStream`
//! arguments: capacity, ordered or unordered, timeout).

use std::time::Duration;

/// The order an enrichment stage emits a batch's records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// In the order they came (Flink's `orderedWait`).
    #[default]
    Ordered,
    /// As their calls answer (Flink's `unorderedWait`); a record answered
    /// from the cache comes first. The journal keeps the order, so a
    /// replay emits the same.
    Unordered,
}

/// How an [`enrich`](crate::KeyedStream::enrich_with) stage calls.
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::lookup::Enrich;
///
/// let options = Enrich::new()
///     .in_flight(32)
///     .unordered()
///     .timeout(Duration::from_secs(2))
///     .cache(Duration::from_secs(60));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Enrich {
    pub(crate) in_flight: usize,
    pub(crate) order: Order,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) cache: Option<Duration>,
}

impl Default for Enrich {
    fn default() -> Self {
        Self {
            in_flight: 16,
            order: Order::Ordered,
            timeout: Duration::from_secs(10),
            attempts: 3,
            cache: None,
        }
    }
}

impl Enrich {
    /// 16 calls in flight per key group, ordered, a 10 s timeout, 3
    /// attempts, no cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most calls one key group has in flight (at least 1; Flink's
    /// `capacity`).
    pub fn in_flight(mut self, calls: usize) -> Self {
        self.in_flight = calls.max(1);
        self
    }

    /// Emits records as their calls answer (see [`Order::Unordered`]).
    pub fn unordered(mut self) -> Self {
        self.order = Order::Unordered;
        self
    }

    /// How long one HTTP attempt may take. A Restate call is not cut off
    /// by the stage: Restate retries the called handler until it answers
    /// or fails terminally (its own inactivity timeout and retry policy
    /// bound it), and the call is durable while it does.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times an HTTP call is tried before its record goes to the
    /// dead-letter output (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Keeps each key's answer in its key group's state for `ttl` (a
    /// dimension lookup: the answer depends on the key alone). A batch
    /// then calls once per key whose answer is missing or older than
    /// `ttl`, with its first record's request, and every record of the key
    /// takes that answer.
    pub fn cache(mut self, ttl: Duration) -> Self {
        self.cache = Some(ttl);
        self
    }
}
