//! The bench's source and sink: a sequence that notes when each number is
//! read, and the exactly-once file sink that turns those notes into
//! latencies once a record's write is durable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stream_runtime::{FileSink, Sequence, Sink, Source};

/// A word and its running count, as written to the file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WordCount {
    pub word: String,
    pub count: u64,
    /// The sequence number of the record that produced this count.
    pub seq: u64,
}

/// Latencies in a log-linear histogram: exact to the microsecond below
/// 1,024 µs, then 64 buckets per doubling (within 1.6%), in constant memory.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

const LINEAR: u64 = 1024;
const SUB_BITS: u32 = 6;

impl Histogram {
    pub fn new() -> Self {
        let buckets = LINEAR as usize + (64 - 10) * (1 << SUB_BITS);
        Self {
            counts: vec![0; buckets],
            total: 0,
        }
    }

    fn bucket(micros: u64) -> usize {
        if micros < LINEAR {
            return micros as usize;
        }
        let exponent = u64::from(63 - micros.leading_zeros());
        let mantissa = (micros >> (exponent - u64::from(SUB_BITS))) & ((1 << SUB_BITS) - 1);
        (LINEAR + ((exponent - 10) << SUB_BITS) + mantissa) as usize
    }

    /// The middle of a bucket, in microseconds.
    fn middle(bucket: usize) -> f64 {
        let bucket = bucket as u64;
        if bucket < LINEAR {
            return bucket as f64;
        }
        let index = bucket - LINEAR;
        let exponent = (index >> SUB_BITS) + 10;
        let width = 1u64 << (exponent - u64::from(SUB_BITS));
        let low = (1u64 << exponent) + (index & ((1 << SUB_BITS) - 1)) * width;
        low as f64 + width as f64 / 2.0
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(micros)] += 1;
        self.total += 1;
    }

    /// The `p` quantile (0..=1), or zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        let rank = ((self.total as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_secs_f64(Self::middle(bucket) / 1e6);
            }
        }
        Duration::ZERO
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }
}

/// What the source and sink share: when each in-flight number was read,
/// and the latencies so far.
pub struct Clock {
    reads: Mutex<HashMap<u64, Instant>>,
    latencies: Mutex<Histogram>,
}

impl Clock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            reads: Mutex::new(HashMap::new()),
            latencies: Mutex::new(Histogram::new()),
        })
    }

    /// Notes that `numbers` start now (read, or sent by a producer): each
    /// one's latency runs until its write is durable.
    pub fn start(&self, numbers: impl IntoIterator<Item = u64>) {
        let now = Instant::now();
        if let Ok(mut reads) = self.reads.lock() {
            for n in numbers {
                reads.entry(n).or_insert(now);
            }
        }
    }

    /// The latencies since the last call, which starts a new interval.
    pub fn take_latencies(&self) -> Histogram {
        let mut latencies = self.latencies.lock().unwrap_or_else(|p| p.into_inner());
        let taken = latencies.clone();
        latencies.clear();
        taken
    }
}

/// A sequence of numbers, noting when each is first read.
pub struct TimedSequence {
    inner: Sequence,
    clock: Arc<Clock>,
}

impl TimedSequence {
    pub fn new(inner: Sequence, clock: &Arc<Clock>) -> Self {
        Self {
            inner,
            clock: Arc::clone(clock),
        }
    }
}

impl Source for TimedSequence {
    type Item = u64;

    async fn read(&self, split: u32, position: u64, max: usize) -> std::io::Result<Vec<u64>> {
        let records = self.inner.read(split, position, max).await?;
        self.clock.start(records.iter().copied());
        Ok(records)
    }

    async fn available(&self, split: u32, position: u64, max: usize) -> std::io::Result<usize> {
        self.inner.available(split, position, max).await
    }

    fn is_bounded(&self) -> bool {
        self.inner.is_bounded()
    }
}

/// The exactly-once file sink, noting each record's latency once its write
/// is durable.
pub struct TimedFileSink {
    inner: FileSink,
    clock: Arc<Clock>,
}

impl TimedFileSink {
    pub fn new(inner: FileSink, clock: &Arc<Clock>) -> Self {
        Self {
            inner,
            clock: Arc::clone(clock),
        }
    }
}

impl Sink<WordCount> for TimedFileSink {
    async fn write(
        &self,
        partition: u32,
        committed: u64,
        records: &[WordCount],
    ) -> std::io::Result<u64> {
        let end = self.inner.write(partition, committed, records).await?;
        let now = Instant::now();
        if let (Ok(mut reads), Ok(mut latencies)) =
            (self.clock.reads.lock(), self.clock.latencies.lock())
        {
            for record in records {
                if let Some(read) = reads.remove(&record.seq) {
                    latencies.record(now - read);
                }
            }
        }
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_are_close() {
        let mut histogram = Histogram::new();
        for micros in 1..=100_000u64 {
            histogram.record(Duration::from_micros(micros));
        }
        for (p, exact) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.001, 100.0)] {
            let got = histogram.percentile(p).as_secs_f64() * 1e6;
            assert!((got - exact).abs() / exact < 0.02, "p{p}: {got} vs {exact}");
        }
        assert_eq!(Histogram::new().percentile(0.5), Duration::ZERO);
    }
}
