//! `Identity`: the empty chain, every record unchanged.

use super::Operator;

/// The empty chain: emits every record unchanged.
///
/// ```
/// use stream_runtime::operator::{Identity, Operator};
///
/// let mut out = Vec::new();
/// Identity.apply("as is", &mut |s| out.push(s));
/// assert_eq!(out, ["as is"]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<In> Operator<In> for Identity {
    type Out = In;

    fn apply<E: FnMut(In)>(&self, input: In, emit: &mut E) {
        emit(input)
    }
}
