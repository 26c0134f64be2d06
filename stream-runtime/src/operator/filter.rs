use super::Operator;

/// `filter`: keeps the records for which the predicate holds.
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
