//! Folding a batch's records of one key into one before they are sent to
//! the key's group (a combiner, Flink SQL's local aggregation): the group
//! then receives one partial per key instead of every record.

use std::collections::HashMap;

use crate::guard::{guarded, Panicked};

/// A keyed stage's combiner: folds two records of one key, the earlier
/// first, into one that the stage takes as it would take both in order.
/// A stage offers one only where that holds for every key state, as for
/// `Reduce` emitting
/// `LatestPerBatch` with an
/// associative function.
///
/// ```
/// use stream_runtime::keyed::Combiner;
///
/// let add = |a: u64, b: u64| a + b;
/// let combiner = Combiner::new(&add, u64::clone);
/// assert_eq!(combiner.fold(&2, &3), Some(5));
/// ```
pub struct Combiner<'a, T> {
    fold: &'a (dyn Fn(T, T) -> T + Send + Sync),
    copy: fn(&T) -> T,
}

impl<'a, T> Combiner<'a, T> {
    /// Folds with `fold`, copying records with `copy` so that a fold that
    /// panics loses neither of its records.
    pub fn new(fold: &'a (dyn Fn(T, T) -> T + Send + Sync), copy: fn(&T) -> T) -> Self {
        Self { fold, copy }
    }

    /// `earlier` and `later` folded into one; `None` if the fold panicked.
    pub fn fold(&self, earlier: &T, later: &T) -> Option<T> {
        let (earlier, later) = ((self.copy)(earlier), (self.copy)(later));
        guarded(|| Ok::<_, Panicked>((self.fold)(earlier, later))).ok()
    }
}

/// The records of one key group as they are sent: with a combiner, one
/// per key, each the fold of the key's records in order.
#[derive(Debug)]
pub(crate) struct Folded<M> {
    /// The records (or partials), in order of each one's first record.
    pub records: Vec<M>,
    /// The entry in `records` each key still folds into.
    open: HashMap<String, usize>,
}

impl<M> Default for Folded<M> {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            open: HashMap::new(),
        }
    }
}

impl<M> Folded<M> {
    /// Adds `record` of key `key`: folded into the key's entry when there
    /// is a combiner, else as an entry of its own. Answers whether it
    /// became a new entry.
    ///
    /// The group keys what it receives again, so a fold is kept only when
    /// `key_of` gives the folded record the same key (a sum of numbers
    /// keyed by their parity would not). After a fold that panicked or
    /// changed the key, the key's later records follow the record, so the
    /// group still sees them in order and can name the one that fails.
    pub fn push(
        &mut self,
        key: String,
        record: M,
        combiner: Option<&Combiner<'_, M>>,
        key_of: impl Fn(&M) -> Option<String>,
    ) -> bool {
        let Some(combiner) = combiner else {
            self.records.push(record);
            return true;
        };
        if let Some(&entry) = self.open.get(&key) {
            let folded = combiner.fold(&self.records[entry], &record);
            if let Some(folded) = folded.filter(|f| key_of(f).as_ref() == Some(&key)) {
                self.records[entry] = folded;
                return false;
            }
            self.open.remove(&key);
            self.records.push(record);
            return true;
        }
        self.open.insert(key, self.records.len());
        self.records.push(record);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: (char, u64), b: (char, u64)) -> (char, u64) {
        assert!(b.1 != 13, "unlucky");
        (a.0, a.1 + b.1)
    }

    fn fold(records: &[(char, u64)], combine: bool) -> (Vec<(char, u64)>, usize) {
        let combiner = Combiner::new(&sum, Clone::clone);
        let mut folded = Folded::default();
        let mut new = 0;
        for &record in records {
            let with = combine.then_some(&combiner);
            let key_of = |r: &(char, u64)| Some(r.0.to_string());
            new += usize::from(folded.push(record.0.to_string(), record, with, key_of));
        }
        (folded.records, new)
    }

    #[test]
    fn a_combiner_leaves_one_partial_per_key_in_order_of_first_record() {
        let records = [('a', 1), ('b', 2), ('a', 3), ('a', 4), ('b', 5)];
        assert_eq!(fold(&records, true), (vec![('a', 8), ('b', 7)], 2));
        assert_eq!(fold(&records, false), (records.to_vec(), 5));
    }

    #[test]
    fn a_fold_that_panics_keeps_both_records_and_the_keys_order() {
        let records = [('a', 1), ('b', 2), ('a', 13), ('a', 4), ('b', 5)];
        let (sent, new) = fold(&records, true);
        assert_eq!(sent, [('a', 1), ('b', 7), ('a', 13), ('a', 4)]);
        assert_eq!(new, 4);
    }

    #[test]
    fn a_fold_that_changes_the_key_is_not_kept() {
        // Numbers keyed by parity, summed: 1 + 3 is even.
        let add = |a: u64, b: u64| a + b;
        let combiner = Combiner::new(&add, u64::clone);
        let parity = |n: &u64| Some((n % 2).to_string());
        let mut folded = Folded::default();
        for n in [1u64, 2, 3, 4] {
            folded.push((n % 2).to_string(), n, Some(&combiner), parity);
        }
        assert_eq!(folded.records, [1, 6, 3]);
    }
}
