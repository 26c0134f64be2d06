//! `Then`: two operators in sequence, each output of the first fed to the
//! second.

use super::{Operator, Stamps};

/// Two operators in sequence: every output of the first feeds the second.
///
/// ```
/// use stream_runtime::operator::{Filter, Map, Operator, Then};
///
/// let chain = Then::new(Map::new(|n: u64| n * 3), Filter::new(|n: &u64| n % 2 == 0));
/// let mut out = Vec::new();
/// for n in 1..=4 {
///     chain.apply(n, &mut |n| out.push(n));
/// }
/// assert_eq!(out, [6, 12]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Then<A, B> {
    first: A,
    second: B,
}

impl<A, B> Then<A, B> {
    /// Runs `first`, then `second` on each of its outputs.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

impl<In, A, B> Operator<In> for Then<A, B>
where
    A: Operator<In>,
    B: Operator<A::Out>,
{
    type Out = B::Out;

    fn apply<E: FnMut(Self::Out)>(&self, input: In, emit: &mut E) {
        let second = &self.second;
        self.first.apply(input, &mut |mid| second.apply(mid, emit));
    }

    fn apply_stamped<E: FnMut(Self::Out)>(&self, input: In, emit: &mut E, stamps: &Stamps) {
        let second = &self.second;
        let mut next = |mid| second.apply_stamped(mid, emit, stamps);
        self.first.apply_stamped(input, &mut next, stamps);
    }
}
