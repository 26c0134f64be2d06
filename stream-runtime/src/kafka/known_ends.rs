//! What this process already knows of its partitions' ends, so that a
//! lease or a write can skip a round trip to the broker. Both facts stay
//! true without asking again, because a partition's offsets only grow:
//!
//! - [`HighWatermarks`]: an end a partition once had. Every offset below it
//!   exists (or was deleted by retention, which a read reports), so a
//!   range below it needs no `ListOffsets`.
//! - [`LastProduced`]: the end right after this process's last produce to a
//!   partition, with the sequence number of the record it ended with. While
//!   the partition's end is still that, no one wrote after it, so the last
//!   record's sequence is known without fetching it.
//!
//! Neither is shared between processes, and neither is needed for
//! correctness: when a process has not seen a fact, it asks the broker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The highest end seen of each partition.
#[derive(Debug)]
pub(crate) struct HighWatermarks(Vec<AtomicU64>);

impl HighWatermarks {
    /// Nothing known yet of `partitions` partitions.
    pub(crate) fn new(partitions: usize) -> Self {
        Self((0..partitions).map(|_| AtomicU64::new(0)).collect())
    }

    /// Notes that `partition`'s end was `end` (a fetch's or a
    /// `ListOffsets`' answer).
    pub(crate) fn saw(&self, partition: u32, end: u64) {
        if let Some(known) = self.0.get(partition as usize) {
            known.fetch_max(end, Ordering::Relaxed);
        }
    }

    /// How many of `max` offsets from `position` are known to exist, if
    /// all of them are; otherwise the broker must be asked.
    pub(crate) fn covers(&self, partition: u32, position: u64, max: usize) -> Option<usize> {
        let known = self.0.get(partition as usize)?.load(Ordering::Relaxed);
        let wanted = position.saturating_add(max as u64);
        (max > 0 && wanted <= known).then_some(max)
    }
}

/// Each partition's end after this process's last produce, with the
/// sequence number of the last record.
#[derive(Debug)]
pub(crate) struct LastProduced(Vec<Mutex<Option<(i64, u64)>>>);

impl LastProduced {
    /// Nothing produced yet to `partitions` partitions.
    pub(crate) fn new(partitions: usize) -> Self {
        Self((0..partitions).map(|_| Mutex::new(None)).collect())
    }

    /// Notes that a produce to `partition` ended it at `end`, with the
    /// record of sequence `sequence` last.
    pub(crate) fn produced(&self, partition: u32, end: i64, sequence: u64) {
        if let Some(slot) = self.0.get(partition as usize) {
            if let Ok(mut last) = slot.lock() {
                *last = Some((end, sequence));
            }
        }
    }

    /// The last record's sequence number, if the partition's end is
    /// still `end`, where this process's last produce left it.
    pub(crate) fn sequence_at(&self, partition: u32, end: i64) -> Option<u64> {
        let last = *self.0.get(partition as usize)?.lock().ok()?;
        last.filter(|(at, _)| *at == end)
            .map(|(_, sequence)| sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_below_a_seen_end_needs_no_question() {
        let ends = HighWatermarks::new(2);
        assert_eq!(ends.covers(0, 0, 10), None, "nothing seen yet");
        ends.saw(0, 100);
        ends.saw(0, 40); // an older answer does not move it back
        assert_eq!(ends.covers(0, 90, 10), Some(10));
        assert_eq!(ends.covers(0, 91, 10), None, "past the end seen");
        assert_eq!(ends.covers(1, 0, 1), None, "another partition");
        assert_eq!(ends.covers(7, 0, 1), None, "no such partition");
    }

    #[test]
    fn the_last_sequence_is_known_only_while_the_end_has_not_moved() {
        let last = LastProduced::new(1);
        assert_eq!(last.sequence_at(0, 5), None);
        last.produced(0, 5, 41);
        assert_eq!(last.sequence_at(0, 5), Some(41));
        assert_eq!(last.sequence_at(0, 6), None, "someone wrote after it");
        assert_eq!(last.sequence_at(3, 5), None);
    }
}
