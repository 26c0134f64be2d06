use super::{KeyedOperator, StateError};
use crate::Record;

/// `reduce`: folds each key's records into a running aggregate and emits the
/// aggregate after every record, as Flink's `KeyedStream::reduce` does.
pub struct Reduce<F> {
    f: F,
}

impl<F> Reduce<F> {
    /// Wraps the user's reduce function.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<K, T, F> KeyedOperator<K, T> for Reduce<F>
where
    T: Record + Clone,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    type Out = T;
    type State = T;

    fn apply(
        &self,
        _key: &K,
        state: &mut Option<T>,
        input: T,
        out: &mut Vec<T>,
    ) -> Result<(), StateError> {
        let next = match state.take() {
            None => input,
            Some(acc) => (self.f)(acc, input),
        };
        out.push(next.clone());
        *state = Some(next);
        Ok(())
    }
}
