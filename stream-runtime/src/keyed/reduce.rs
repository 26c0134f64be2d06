//! `reduce`: `Reduce` folds each key's records into a running aggregate;
//! `Emit` says whether it emits after every record or once per key and batch.

use super::{Combiner, KeyTime, KeyedOperator, StateError};
use crate::record::Aggregate;

/// `reduce`: folds each key's records into a running aggregate and emits the
/// aggregate after every record, as Flink's `KeyedStream::reduce` does.
///
/// ```
/// use stream_runtime::keyed::{KeyTime, KeyedOperator, Reduce};
///
/// let sum = Reduce::new(|a: u64, b: u64| a + b);
/// let (mut state, mut out, mut time) = (None, Vec::new(), KeyTime::default());
/// for n in [1, 2, 3] {
///     sum.apply(&"key", &mut state, n, &mut time, &mut out).unwrap();
/// }
/// assert_eq!(out, [1, 3, 6]);
/// assert_eq!(state, Some(6));
/// ```
pub struct Reduce<F, T> {
    f: F,
    /// `T::clone`, taken where `T: Clone` was checked (on the user's
    /// `reduce`), so no later bound repeats that error.
    clone: fn(&T) -> T,
    emit: Emit,
}

/// What a running aggregate emits.
///
/// ```
/// use stream_runtime::keyed::{Emit, KeyTime, KeyedOperator, Reduce};
///
/// let sum = Reduce::emitting(|a: u64, b: u64| a + b, Emit::LatestPerBatch);
/// let (mut state, mut out, mut time) = (None, Vec::new(), KeyTime::default());
/// for n in [1, 2, 3] {
///     sum.apply(&"key", &mut state, n, &mut time, &mut out).unwrap();
/// }
/// assert!(KeyedOperator::<&str, u64>::emits_per_batch(&sum));
/// KeyedOperator::<&str, u64>::end_of_batch(&sum, &state, &mut out);
/// assert_eq!(out, [6], "one value for the key's three records");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Emit {
    /// The aggregate after every record, as Flink's DataStream `reduce`.
    #[default]
    EveryUpdate,
    /// The aggregate once per key per batch, after the batch's last record
    /// of the key: what Kafka Streams' record cache and Flink SQL's
    /// mini-batch emit. Each value is still exactly-once; the values in
    /// between are not emitted.
    LatestPerBatch,
}

impl<F, T: Aggregate> Reduce<F, T> {
    /// Wraps the user's reduce function, emitting after every record.
    pub fn new(f: F) -> Self {
        Self::emitting(f, Emit::EveryUpdate)
    }

    /// Wraps the user's reduce function, emitting as `emit` says.
    pub fn emitting(f: F, emit: Emit) -> Self {
        Self {
            f,
            clone: T::clone,
            emit,
        }
    }
}

impl<K, T, F> KeyedOperator<K, T> for Reduce<F, T>
where
    T: 'static,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    type Out = T;
    type State = T;

    fn apply(
        &self,
        _key: &K,
        state: &mut Option<T>,
        input: T,
        _time: &mut KeyTime,
        out: &mut Vec<T>,
    ) -> Result<(), StateError> {
        let next = match state.take() {
            None => input,
            Some(acc) => (self.f)(acc, input),
        };
        if self.emit == Emit::EveryUpdate {
            out.push((self.clone)(&next));
        }
        *state = Some(next);
        Ok(())
    }

    fn emits_per_batch(&self) -> bool {
        self.emit == Emit::LatestPerBatch
    }

    fn end_of_batch(&self, key_state: &Option<T>, out: &mut Vec<T>) {
        out.extend(key_state.as_ref().map(self.clone));
    }

    /// Emitting the latest value per batch, the function folds a batch's
    /// records of a key before the shuffle: the key's group then applies
    /// one partial. Its output is the same when the function is
    /// associative (`f(f(a, b), c) == f(a, f(b, c))`), as sums, counts,
    /// minima and "the last one" are; the order of records is kept, so it
    /// need not be commutative.
    fn combiner(&self) -> Option<Combiner<'_, T>> {
        (self.emit == Emit::LatestPerBatch).then(|| Combiner::new(&self.f, self.clone))
    }
}
