//! How many bytes a fetch asks for: about what the rest of a range takes,
//! learnt per partition from the fetches before.
//!
//! The broker answers a fetch with the record batches from the fetch
//! offset on: the first whole even when it is larger than the bytes asked
//! for, the rest up to those bytes (a batch cut off there is dropped), and
//! never past the end of a log segment or the last stable offset. rskafka
//! decodes every record it keeps, so a fetch of 4 MiB for a range of
//! 20,000 small records decoded ten times the records the range holds.
//!
//! The size only sets how much of the partition one fetch carries, never
//! which records a read returns (see the source's `after_fetch`).

use std::sync::atomic::{AtomicUsize, Ordering};

use rskafka::record::Record;

/// The bytes per record before any fetch of the partition was seen.
const FIRST_GUESS: usize = 256;
/// What a record takes in a batch besides its key, value and headers:
/// length, attributes, timestamp and offset deltas, key and value lengths,
/// the header count (varints, rounded up).
const RECORD_OVERHEAD: usize = 16;
/// What each header takes besides its key and value: their two lengths.
const HEADER_OVERHEAD: usize = 4;

/// The fetch sizes of one source's partitions.
#[derive(Debug)]
pub(super) struct FetchSize {
    /// Bytes per record of each partition, as its last fetch showed.
    per_record: Vec<AtomicUsize>,
    /// The least a fetch asks for.
    least: i32,
    /// The most a fetch asks for.
    most: i32,
}

impl FetchSize {
    /// For `partitions` partitions; a fetch asks for at least `least` and
    /// at most `most` bytes.
    pub(super) fn new(partitions: u32, least: i32, most: i32) -> Self {
        Self {
            per_record: (0..partitions)
                .map(|_| AtomicUsize::new(FIRST_GUESS))
                .collect(),
            least: least.min(most),
            most,
        }
    }

    /// The bytes to ask of `partition` for `records` records: half as much
    /// again as records took there last time.
    pub(super) fn wanted(&self, partition: u32, records: usize) -> i32 {
        let per_record = self
            .per_record
            .get(partition as usize)
            .map_or(FIRST_GUESS, |p| p.load(Ordering::Relaxed));
        let bytes = records.saturating_mul(per_record);
        let bytes = bytes.saturating_add(bytes / 2);
        i32::try_from(bytes)
            .unwrap_or(i32::MAX)
            .clamp(self.least, self.most)
    }

    /// Learns from a fetch of `partition` that asked for `asked` bytes and
    /// brought `records` (from the fetch offset on). Unless they reached the
    /// partition's end, the bytes asked are taken for what they took, batch
    /// headers, compression and a batch cut off at the end included; never
    /// less than their keys, values and headers take. (An answer that
    /// stopped at a segment's end or a transaction's marker makes that too
    /// high until the next fetch cut by its size: a larger fetch, never
    /// other records.)
    pub(super) fn saw<'a>(
        &self,
        partition: u32,
        asked: i32,
        records: impl IntoIterator<Item = &'a Record>,
        reached_end: bool,
    ) {
        let Some(per_record) = self.per_record.get(partition as usize) else {
            return;
        };
        let (count, bytes) = records
            .into_iter()
            .fold((0usize, 0usize), |(n, b), r| (n + 1, b + wire_bytes(r)));
        if count == 0 {
            return;
        }
        let least = bytes.div_ceil(count);
        let asked = usize::try_from(asked).unwrap_or(0).div_ceil(count);
        let seen = if reached_end { least } else { least.max(asked) };
        per_record.store(seen, Ordering::Relaxed);
    }
}

/// The bytes `record` takes in a record batch (uncompressed), its lengths
/// and deltas included; the batch's own header is not.
pub(super) fn wire_bytes(record: &Record) -> usize {
    let headers = record.headers.len().saturating_mul(HEADER_OVERHEAD);
    record.approximate_size() + headers + RECORD_OVERHEAD
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
        let size = FetchSize::new(1, 64 << 10, 4 << 20);
        // 20,000 records at the first guess: more than the most.
        assert_eq!(size.wanted(0, 20_000), 4 << 20);
        // Words of 8 bytes at the partition's end: 8 + 16 each, asked for
        // half as much again.
        size.saw(0, 4 << 20, &vec![record(8); 100], true);
        assert_eq!(size.wanted(0, 20_000), 20_000 * 24 * 3 / 2);
        // A small range still asks for the least.
        assert_eq!(size.wanted(0, 10), 64 << 10);
        // Larger records afterwards: the estimate follows them.
        size.saw(0, 4 << 20, &vec![record(1000); 10], true);
        assert_eq!(size.wanted(0, 1000), 1000 * 1016 * 3 / 2);
    }

    #[test]
    fn a_fetch_cut_by_its_size_says_what_records_take_on_the_wire() {
        let size = FetchSize::new(1, 1, 4 << 20);
        // One small record a batch: 8,000 bytes asked brought 100 records.
        size.saw(0, 8_000, &vec![record(8); 100], false);
        assert_eq!(size.wanted(0, 100), 100 * 80 * 3 / 2);
        // A first batch larger than asked (sent whole) brought more records
        // than the bytes asked hold: they take at least their own bytes.
        size.saw(0, 1_000, &vec![record(8); 1000], false);
        assert_eq!(size.wanted(0, 100), 100 * 24 * 3 / 2);
    }

    #[test]
    fn a_fetch_with_no_record_keeps_the_estimate() {
        let size = FetchSize::new(1, 1, 4 << 20);
        size.saw(0, 4 << 20, &vec![record(8); 4], true);
        size.saw(0, 4 << 20, &[], false);
        assert_eq!(size.wanted(0, 100), 100 * 24 * 3 / 2);
    }

    #[test]
    fn each_partition_keeps_its_own_estimate() {
        let size = FetchSize::new(2, 1, 4 << 20);
        size.saw(0, 4 << 20, &vec![record(8); 4], true);
        size.saw(1, 4 << 20, &vec![record(984); 4], true);
        assert_eq!(size.wanted(0, 100), 100 * 24 * 3 / 2);
        assert_eq!(size.wanted(1, 100), 100 * 1000 * 3 / 2);
        // A partition the source does not have asks at the first guess.
        assert_eq!(size.wanted(2, 100), 100 * FIRST_GUESS as i32 * 3 / 2);
    }

    #[test]
    fn headers_count_with_their_lengths() {
        let size = FetchSize::new(1, 1, 4 << 20);
        let mut with_header = record(8);
        with_header.headers.insert("seq".into(), vec![0; 8]);
        size.saw(0, 4 << 20, [&with_header], true);
        // 8 + 16, and 3 + 8 + 4 for the header.
        assert_eq!(size.wanted(0, 2), 2 * 39 * 3 / 2);
    }
}
