//! How many bytes a fetch asks for: what a range's records take on the wire,
//! as the source's last fetch saw them.
//!
//! The broker answers a fetch with whole record batches up to the bytes
//! asked for, and rskafka decodes every record of them, so a fetch of
//! 4 MiB for a range of 20,000 small records decodes ten times the records
//! the range holds. An estimate too small costs another fetch for the rest
//! of the range, not a wrong answer: the read goes on until the range is
//! covered or the partition ends.

use std::sync::atomic::{AtomicUsize, Ordering};

use rskafka::record::Record;

/// The bytes per record before any fetch was seen.
const FIRST_GUESS: usize = 256;
/// What a record takes in a batch besides its key, value and headers:
/// length, attributes, timestamp and offset deltas, key and value lengths,
/// the header count (varints, rounded up).
const RECORD_OVERHEAD: usize = 16;
/// What each header takes besides its key and value: their two lengths.
const HEADER_OVERHEAD: usize = 4;

/// The fetch size of one source, learnt from its fetches.
#[derive(Debug)]
pub(super) struct FetchSize {
    /// Bytes per record, as last seen.
    per_record: AtomicUsize,
    /// The least a fetch asks for.
    least: i32,
    /// The most a fetch asks for.
    most: i32,
}

impl FetchSize {
    /// A fetch asks for at least `least` and at most `most` bytes.
    pub(super) fn new(least: i32, most: i32) -> Self {
        Self {
            per_record: AtomicUsize::new(FIRST_GUESS),
            least: least.min(most),
            most,
        }
    }

    /// The bytes to ask for `records` records: half as much again as they
    /// took last time, so that one fetch usually covers a range that
    /// starts inside a batch.
    pub(super) fn wanted(&self, records: usize) -> i32 {
        let bytes = records.saturating_mul(self.per_record.load(Ordering::Relaxed));
        let bytes = bytes.saturating_add(bytes / 2);
        i32::try_from(bytes)
            .unwrap_or(i32::MAX)
            .clamp(self.least, self.most)
    }

    /// Learns from a fetch's records (those outside the range too: they
    /// were sent and decoded as well).
    pub(super) fn saw<'a>(&self, records: impl IntoIterator<Item = &'a Record>) {
        let (count, bytes) = records.into_iter().fold((0usize, 0usize), |(n, b), r| {
            let headers = r.headers.len().saturating_mul(HEADER_OVERHEAD);
            (n + 1, b + r.approximate_size() + headers + RECORD_OVERHEAD)
        });
        if count > 0 {
            self.per_record
                .store(bytes.div_ceil(count), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn record(value: usize) -> Record {
        Record {
            key: None,
            value: Some(vec![b'x'; value]),
            headers: BTreeMap::new(),
            timestamp: chrono::DateTime::from_timestamp_millis(0).unwrap_or_default(),
        }
    }

    #[test]
    fn asks_for_the_guess_until_a_fetch_is_seen_then_for_what_records_took() {
        let size = FetchSize::new(64 << 10, 4 << 20);
        // 20,000 records at the first guess: more than the most.
        assert_eq!(size.wanted(20_000), 4 << 20);
        // Words of 8 bytes take 24 on the wire, asked for half as much again.
        size.saw(&vec![record(8); 100]);
        assert_eq!(size.wanted(20_000), 20_000 * 24 * 3 / 2);
        // A small range still asks for the least.
        assert_eq!(size.wanted(10), 64 << 10);
        // Larger records afterwards: the estimate follows them.
        size.saw(&vec![record(1000); 10]);
        assert_eq!(size.wanted(1000), 1000 * 1016 * 3 / 2);
    }

    #[test]
    fn a_fetch_with_no_record_keeps_the_estimate() {
        let size = FetchSize::new(1, 4 << 20);
        size.saw(&vec![record(8); 4]);
        size.saw(&[]);
        assert_eq!(size.wanted(100), 100 * 24 * 3 / 2);
    }

    #[test]
    fn headers_count_with_their_lengths() {
        let size = FetchSize::new(1, 4 << 20);
        let mut with_header = record(8);
        with_header.headers.insert("seq".into(), vec![0; 8]);
        size.saw([&with_header]);
        // 8 + 16, and 3 + 8 + 4 for the header.
        assert_eq!(size.wanted(2), 2 * 39 * 3 / 2);
    }
}
