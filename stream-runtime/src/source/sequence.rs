//! `Sequence`: a source of the numbers 0, 1, 2, …, spread over the splits.

/// The numbers 0, 1, 2, …: a sequence-numbered source whose every record
/// says where it came from, for tests and fault-injection runs.
///
/// With `s` splits, split `k` reads `k, k + s, k + 2s, …`, so each number is
/// read from exactly one split. Unbounded unless [`take`](Sequence::take)
/// limits it.
///
/// ```
/// use stream_runtime::{Sequence, Source};
///
/// let numbers = Sequence::new().take(100).with_splits(4);
/// assert_eq!(numbers.splits(), 4);
/// assert!(numbers.is_bounded());
/// assert!(!Sequence::new().is_bounded());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Sequence {
    limit: Option<u64>,
    splits: u32,
}

impl Sequence {
    /// The unbounded sequence, one split.
    pub fn new() -> Self {
        Self {
            limit: None,
            splits: 1,
        }
    }

    /// Only the numbers below `n`: a bounded source.
    pub fn take(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Reads the sequence as `splits` interleaved splits (at least one).
    pub fn with_splits(mut self, splits: u32) -> Self {
        self.splits = splits.max(1);
        self
    }
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

impl Sequence {
    /// The records `read` returns.
    fn records(&self, split: u32, position: u64, max: usize) -> Vec<u64> {
        let stride = u64::from(self.splits);
        (0..max as u64)
            .map(|offset| (position + offset) * stride + u64::from(split))
            .take_while(|n| self.limit.is_none_or(|limit| *n < limit))
            .collect()
    }

    /// What `available` answers.
    fn count(&self, split: u32, position: u64, max: usize) -> usize {
        let Some(limit) = self.limit else { return max };
        let stride = u64::from(self.splits);
        // Numbers position * stride + split, … below the limit.
        let first = position
            .saturating_mul(stride)
            .saturating_add(u64::from(split));
        let left = limit.saturating_sub(first).div_ceil(stride);
        usize::try_from(left).unwrap_or(usize::MAX).min(max)
    }
}

generated_source!(Sequence, u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partition_the_sequence() {
        let source = Sequence::new().take(10).with_splits(3);
        let mut all: Vec<u64> = (0..3).flat_map(|s| source.records(s, 0, 100)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(source.records(1, 1, 2), vec![4, 7]);
        assert!(source.records(0, 4, 5).is_empty());
    }

    #[test]
    fn available_counts_what_read_returns() {
        for splits in 1..4 {
            crate::source::assert_available_matches_read(
                &Sequence::new().take(10).with_splits(splits),
            );
        }
        assert_eq!(Sequence::new().count(0, 7, 9), 9);
    }
}
