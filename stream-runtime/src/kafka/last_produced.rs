//! What this process knows of the partitions its Kafka sink wrote, so that
//! a write can skip reading back the last record.
//!
//! A partition's offsets only grow. So while its end is still where this
//! process's last produce left it, no one wrote after that produce, and the
//! last record's sequence number is the one that produce ended with. When
//! the end has moved, or after a restart, the sink reads the last record
//! as before. Nothing here is needed for correctness, and nothing is shared
//! between processes.

use std::sync::Mutex;

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
    fn the_last_sequence_is_known_only_while_the_end_has_not_moved() {
        let last = LastProduced::new(1);
        assert_eq!(last.sequence_at(0, 5), None);
        last.produced(0, 5, 41);
        assert_eq!(last.sequence_at(0, 5), Some(41));
        assert_eq!(last.sequence_at(0, 6), None, "someone wrote after it");
        assert_eq!(last.sequence_at(3, 5), None);
    }
}
