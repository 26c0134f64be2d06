//! `flat_map`: turns each record into the items of an iterable.

use super::{Map, Operator};

/// `flat_map`: any number of outputs per input, from an iterable.
///
/// ```
/// use stream_runtime::operator::{FlatMap, Operator};
///
/// let words = FlatMap::new(|line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>());
/// let mut out = Vec::new();
/// words.apply("to be", &mut |w| out.push(w));
/// words.apply("", &mut |w| out.push(w));
/// assert_eq!(out, ["to", "be", ""]);
/// ```
pub struct FlatMap<F, I>(Map<F, I>);

impl<F, I> FlatMap<F, I> {
    /// Wraps the user's function: a [`Map`] to an iterable, whose items
    /// go on one by one.
    pub fn new(f: F) -> Self {
        Self(Map::new(f))
    }
}

impl<In, I, F> Operator<In> for FlatMap<F, I>
where
    F: Fn(In) -> I + Send + Sync + 'static,
    I: IntoIterator + 'static,
{
    type Out = I::Item;

    fn apply<E: FnMut(I::Item)>(&self, input: In, emit: &mut E) {
        for out in self.0.call(input) {
            emit(out)
        }
    }
}
