//! Folding a batch's records of one key into one before they are sent to
//! the key's group (a combiner, Flink SQL's local aggregation): the group
//! then receives one partial per key instead of every record.

use std::collections::HashMap;

use crate::guard::guarded;

/// A keyed stage's combiner: folds two records of one key, the earlier
/// first, into one that the stage takes as it would take both in order.
/// A stage offers one only where that holds for every key state, as for
/// [`Reduce`](crate::keyed::Reduce) emitting
/// [`LatestPerBatch`](crate::keyed::Emit::LatestPerBatch) with an
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
        guarded(|| Ok((self.fold)(earlier, later))).ok()
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
    /// is a combiner, else (or when the fold panicked) as an entry of its
    /// own. Answers whether it became a new entry. After a fold that
    /// panicked, the key's later records follow the failing one, so the
    /// group still sees them in order and can name the one that fails.
    pub fn push(&mut self, key: String, record: M, combiner: Option<&Combiner<'_, M>>) -> bool {
        let Some(combiner) = combiner else {
            self.records.push(record);
            return true;
        };
        if let Some(&entry) = self.open.get(&key) {
            if let Some(folded) = combiner.fold(&self.records[entry], &record) {
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
            new += usize::from(folded.push(record.0.to_string(), record, with));
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
}
