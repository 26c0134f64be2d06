use super::Operator;

/// Two operators in sequence: every output of the first feeds the second.
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
}
