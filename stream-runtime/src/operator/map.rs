//! `map`: turns each record into one new record.

use std::marker::PhantomData;

use super::Operator;

/// `map`: one output per input.
///
/// ```
/// use stream_runtime::operator::{Map, Operator};
///
/// let double = Map::new(|n: u64| n * 2);
/// let mut out = Vec::new();
/// double.apply(21, &mut |n| out.push(n));
/// assert_eq!(out, [42]);
/// ```
pub struct Map<F, Out> {
    f: F,
    out: PhantomData<fn() -> Out>,
}

impl<F, Out> Map<F, Out> {
    /// Wraps the user's function.
    pub fn new(f: F) -> Self {
        let out = PhantomData;
        Self { f, out }
    }

    /// The user's function, applied to one input.
    pub(super) fn call<In>(&self, input: In) -> Out
    where
        F: Fn(In) -> Out,
    {
        (self.f)(input)
    }
}

impl<In, Out, F> Operator<In> for Map<F, Out>
where
    F: Fn(In) -> Out + Send + Sync + 'static,
    Out: 'static,
{
    type Out = Out;

    fn apply<E: FnMut(Out)>(&self, input: In, emit: &mut E) {
        emit(self.call(input))
    }
}
