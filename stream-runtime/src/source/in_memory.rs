//! `InMemorySource`: a bounded source over an in-memory collection, its
//! records spread over the splits in turn.

use super::Source;

/// A bounded source over an in-memory collection.
///
/// Record `i` belongs to split `i % splits`, in order, so positions are
/// stable across restarts as long as the collection is the same.
///
/// ```
/// use stream_runtime::InMemorySource;
/// let words = InMemorySource::new(vec!["to", "be", "or", "not", "to", "be"]);
/// # let _ = words;
/// ```
#[derive(Debug, Clone)]
pub struct InMemorySource<T> {
    items: Vec<T>,
    splits: u32,
}

impl<T> InMemorySource<T> {
    /// A source with a single split over `items`.
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        Self {
            items: items.into_iter().collect(),
            splits: 1,
        }
    }

    /// Spreads the items round-robin over `splits` splits (at least one).
    pub fn with_splits(mut self, splits: u32) -> Self {
        self.splits = splits.max(1);
        self
    }

    /// The number of records in the collection.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the collection is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T: Clone + Send + Sync + 'static> InMemorySource<T> {
    /// The records `read` returns.
    fn records(&self, split: u32, position: u64, max: usize) -> Vec<T> {
        let stride = self.splits as usize;
        let Ok(position) = usize::try_from(position) else {
            return Vec::new();
        };
        let first = position
            .saturating_mul(stride)
            .saturating_add(split as usize);
        self.items
            .iter()
            .skip(first)
            .step_by(stride)
            .take(max)
            .cloned()
            .collect()
    }

    /// What `available` answers.
    fn count(&self, split: u32, position: u64, max: usize) -> usize {
        let stride = self.splits as usize;
        let first = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .saturating_mul(stride)
            .saturating_add(split as usize);
        // Items first, first + stride, … that exist.
        let left = self.items.len().saturating_sub(first).div_ceil(stride);
        left.min(max)
    }
}

impl<T: Clone + Send + Sync + 'static> Source for InMemorySource<T> {
    type Item = T;

    fn splits(&self) -> u32 {
        self.splits
    }

    async fn read(&self, split: u32, position: u64, max: usize) -> std::io::Result<Vec<T>> {
        Ok(self.records(split, position, max))
    }

    async fn available(&self, split: u32, position: u64, max: usize) -> std::io::Result<usize> {
        Ok(self.count(split, position, max))
    }

    fn is_bounded(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_counts_what_read_returns() {
        for splits in 1..4 {
            crate::source::assert_available_matches_read(
                &InMemorySource::new(0..10u32).with_splits(splits),
            );
        }
    }
}
