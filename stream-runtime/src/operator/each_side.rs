//! `EachSide`: a join's two inputs' stateless operators, one on each
//! `Either::Left` and the other on each `Either::Right`.

use super::{Operator, Stamps};
use crate::source::Either;

/// The stateless operators of a join's two inputs, over the records of
/// both: `left` on each `Either::Left`, `right` on each `Either::Right`.
/// Built by [`Stream::join`](crate::Stream::join), which reads both
/// inputs' sources as one.
///
/// ```
/// use stream_runtime::operator::{EachSide, Map, Operator};
/// use stream_runtime::source::Either;
///
/// let both = EachSide::new(Map::new(|n: u32| n * 2), Map::new(|s: &str| s.len()));
/// let mut out = Vec::new();
/// both.apply(Either::Left(21), &mut |e| out.push(e));
/// both.apply(Either::Right("four"), &mut |e| out.push(e));
/// assert_eq!(out, [Either::Left(42), Either::Right(4)]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EachSide<A, B> {
    left: A,
    right: B,
}

impl<A, B> EachSide<A, B> {
    /// `left` on the first input's records, `right` on the second's.
    pub fn new(left: A, right: B) -> Self {
        Self { left, right }
    }
}

impl<L, R, A, B> Operator<Either<L, R>> for EachSide<A, B>
where
    A: Operator<L>,
    B: Operator<R>,
{
    type Out = Either<A::Out, B::Out>;

    fn apply<E: FnMut(Self::Out)>(&self, input: Either<L, R>, emit: &mut E) {
        match input {
            Either::Left(l) => self.left.apply(l, &mut |x| emit(Either::Left(x))),
            Either::Right(r) => self.right.apply(r, &mut |x| emit(Either::Right(x))),
        }
    }

    fn apply_stamped<E: FnMut(Self::Out)>(
        &self,
        input: Either<L, R>,
        emit: &mut E,
        stamps: &Stamps,
    ) {
        match input {
            Either::Left(l) => (self.left).apply_stamped(l, &mut |x| emit(Either::Left(x)), stamps),
            Either::Right(r) => {
                (self.right).apply_stamped(r, &mut |x| emit(Either::Right(x)), stamps)
            }
        }
    }
}
