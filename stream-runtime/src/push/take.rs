//! What a lease takes from a split's log.
//!
//! The log keeps each appended batch as one state entry named by its first
//! position; batches follow each other with no gap, so a take walks them
//! from the one that holds its first position (the log's `cursor`). A
//! batch taken to its end is dropped; one taken in part stays, and the
//! next take skips what was taken of it.

use serde_json::Value;

use super::encoded_len;

/// A take in progress: fed the batches in order by [`batch`](Taking::batch)
/// until it answers that it has what it needs.
#[derive(Debug)]
pub(crate) struct Taking {
    /// The next position to take.
    next: u64,
    /// How many more records it may take.
    room: u32,
    /// How many more bytes of records.
    bytes: u64,
    records: Vec<Value>,
    dropped: Vec<u64>,
    /// The first position of the batch that holds `next`.
    cursor: u64,
    /// It stopped inside a batch: it has what it may take.
    full: bool,
}

/// What a take took.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The records, from the position asked for.
    pub records: Vec<Value>,
    /// The batches taken to their end, by first position: to drop.
    pub dropped: Vec<u64>,
    /// The first position of the batch that holds the position after the
    /// records (the log's new cursor).
    pub cursor: u64,
}

impl Taking {
    /// A take of up to `max` records, and `bytes` of them encoded (but at
    /// least one record), from position `from`, whose batch starts at
    /// `cursor`.
    pub(crate) fn new(from: u64, cursor: u64, max: u32, bytes: u64) -> Self {
        Self {
            next: from,
            room: max,
            bytes,
            records: Vec::new(),
            dropped: Vec::new(),
            cursor,
            full: false,
        }
    }

    /// The first position of the batch to feed next, or `None` once the
    /// take has what it may take.
    pub(crate) fn wants(&self) -> Option<u64> {
        (!self.full && self.room > 0).then_some(self.cursor)
    }

    /// Takes what it may of the batch at `first` (the one [`wants`]
    /// named), holding `records`.
    ///
    /// [`wants`]: Taking::wants
    pub(crate) fn batch(&mut self, first: u64, records: Vec<Value>) {
        let len = records.len() as u64;
        let skip = self.next.saturating_sub(first);
        for record in records.into_iter().skip(skip as usize) {
            let size = encoded_len(&record) as u64;
            if self.room == 0 || (size > self.bytes && !self.records.is_empty()) {
                self.full = true;
                return;
            }
            self.bytes = self.bytes.saturating_sub(size);
            self.room -= 1;
            self.records.push(record);
            self.next += 1;
        }
        // Taken to its end: the next take starts at the next batch.
        self.dropped.push(first);
        self.cursor = first + len;
    }

    /// What it took.
    pub(crate) fn finish(self) -> Taken {
        Taken {
            records: self.records,
            dropped: self.dropped,
            cursor: self.cursor,
        }
    }
}
