use super::{KeyTime, KeyedOperator, StateError};
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
}

impl<F, T: Aggregate> Reduce<F, T> {
    /// Wraps the user's reduce function.
    pub fn new(f: F) -> Self {
        Self { f, clone: T::clone }
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
        out.push((self.clone)(&next));
        *state = Some(next);
        Ok(())
    }
}
