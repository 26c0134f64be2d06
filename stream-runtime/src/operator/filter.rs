//! `filter`: keeps the records a predicate accepts.

use super::Operator;

/// `filter`: keeps the records for which the predicate holds.
///
/// ```
/// use stream_runtime::operator::{Filter, Operator};
///
/// let even = Filter::new(|n: &u64| n % 2 == 0);
/// let mut out = Vec::new();
/// for n in 1..=6 {
///     even.apply(n, &mut |n| out.push(n));
/// }
/// assert_eq!(out, [2, 4, 6]);
/// ```
pub struct Filter<F> {
    predicate: F,
}

impl<F> Filter<F> {
    /// Wraps the user's predicate.
    pub fn new(predicate: F) -> Self {
        Self { predicate }
    }
}

impl<In, F> Operator<In> for Filter<F>
where
    F: Fn(&In) -> bool + Send + Sync + 'static,
{
    type Out = In;

    fn apply<E: FnMut(In)>(&self, input: In, emit: &mut E) {
        if (self.predicate)(&input) {
            emit(input)
        }
    }
}
