//! `RandomWords`: a source of words drawn from a vocabulary, each a function
//! of the seed, the split and the position; and `DEFAULT_VOCABULARY`.

use super::mix64;

/// The seed's 15-word vocabulary.
pub const DEFAULT_VOCABULARY: [&str; 15] = [
    "apple",
    "banana",
    "cherry",
    "date",
    "elderberry",
    "fig",
    "grape",
    "honeydew",
    "kiwi",
    "lemon",
    "mango",
    "nectarine",
    "orange",
    "papaya",
    "quince",
];

/// An unbounded source of words drawn from a vocabulary.
///
/// The word at `(split, position)` is a pure function of the seed, the split
/// and the position, so a replayed read yields the same words and the
/// pipeline stays exactly-once.
///
/// ```
/// use stream_runtime::{RandomWords, Source};
///
/// let words = RandomWords::with_vocabulary(["to", "be"]).seed(7).with_splits(2).take(1_000);
/// assert_eq!(words.splits(), 2);
/// assert!(words.is_bounded());
/// // The same position always holds the same word: a replay reads it again.
/// assert_eq!(words.word_at(1, 42), words.word_at(1, 42));
/// assert!(["to", "be"].contains(&words.word_at(0, 3)));
/// ```
#[derive(Debug, Clone)]
pub struct RandomWords {
    vocabulary: Vec<String>,
    seed: u64,
    splits: u32,
    limit: Option<u64>,
}

impl RandomWords {
    /// Words from the seed's 15-word vocabulary, seed 0, one split.
    pub fn new() -> Self {
        Self::with_vocabulary(DEFAULT_VOCABULARY)
    }

    /// Words drawn uniformly from `vocabulary`. An empty vocabulary falls back
    /// to the default one, since a word source with no words cannot produce.
    pub fn with_vocabulary<S: Into<String>>(vocabulary: impl IntoIterator<Item = S>) -> Self {
        let mut vocabulary: Vec<String> = vocabulary.into_iter().map(Into::into).collect();
        if vocabulary.is_empty() {
            vocabulary = DEFAULT_VOCABULARY.iter().map(|w| w.to_string()).collect();
        }
        Self {
            vocabulary,
            seed: 0,
            splits: 1,
            limit: None,
        }
    }

    /// Only the first `n` words of each split: a bounded source.
    pub fn take(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Another sequence of words.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Reads `splits` independent sequences in parallel (at least one).
    pub fn with_splits(mut self, splits: u32) -> Self {
        self.splits = splits.max(1);
        self
    }

    /// The word at a position of a split.
    pub fn word_at(&self, split: u32, position: u64) -> &str {
        let mixed = mix64(self.seed ^ mix64(u64::from(split) ^ mix64(position)));
        let index = (mixed % self.vocabulary.len() as u64) as usize;
        &self.vocabulary[index]
    }
}

impl Default for RandomWords {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomWords {
    /// The records `read` returns.
    fn records(&self, split: u32, position: u64, max: usize) -> Vec<String> {
        let end = self.limit.map_or(u64::MAX, |limit| {
            limit.min(position.saturating_add(max as u64))
        });
        (position..end.min(position.saturating_add(max as u64)))
            .map(|at| self.word_at(split, at).to_owned())
            .collect()
    }

    /// What `available` answers.
    fn count(&self, _split: u32, position: u64, max: usize) -> usize {
        let left = self
            .limit
            .map_or(u64::MAX, |limit| limit.saturating_sub(position));
        usize::try_from(left).unwrap_or(usize::MAX).min(max)
    }
}

generated_source!(RandomWords, String);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn reads_are_a_function_of_the_position() {
        let words = RandomWords::new();
        let first = words.records(0, 100, 50);
        let again = words.records(0, 100, 50);
        assert_eq!(first, again);
        assert_eq!(words.records(0, 120, 1)[0], first[20]);
        assert_ne!(words.records(0, 0, 50), words.records(0, 50, 50));
    }

    #[test]
    fn take_bounds_each_split() {
        let words = RandomWords::new().take(10);
        assert_eq!(words.records(0, 8, 5).len(), 2);
        assert!(words.records(0, 10, 5).is_empty());
        assert!(words.is_bounded());
    }

    #[test]
    fn covers_the_vocabulary() {
        let words = RandomWords::new();
        let seen: std::collections::BTreeSet<_> = words.records(0, 0, 2_000).into_iter().collect();
        assert_eq!(seen.len(), DEFAULT_VOCABULARY.len());
    }
}
