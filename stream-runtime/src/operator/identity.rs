use super::Operator;

/// The empty chain: emits every record unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<In> Operator<In> for Identity {
    type Out = In;

    fn apply<E: FnMut(In)>(&self, input: In, emit: &mut E) {
        emit(input)
    }
}
