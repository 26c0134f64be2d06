//! `EventTime`: the operator behind `event_time`, which stamps each record
//! with its timestamp as a `Timed`.

use super::Operator;
use crate::time::{Millis, Stamps, Timed};

/// `event_time`: stamps each record with its timestamp (milliseconds).
///
/// ```
/// use stream_runtime::operator::{EventTime, Operator};
/// use stream_runtime::time::Timed;
///
/// let stamp = EventTime::new(|r: &(i64, &str)| r.0);
/// let mut out = Vec::new();
/// stamp.apply((1_500, "a"), &mut |t| out.push(t));
/// assert_eq!(out, [Timed { time: 1_500, value: (1_500, "a") }]);
/// ```
pub struct EventTime<F> {
    f: F,
}

impl<F> EventTime<F> {
    /// Wraps the user's timestamp function.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<In, F> Operator<In> for EventTime<F>
where
    In: 'static,
    F: Fn(&In) -> Millis + Send + Sync + 'static,
{
    type Out = Timed<In>;

    fn apply<E: FnMut(Timed<In>)>(&self, input: In, emit: &mut E) {
        let time = (self.f)(&input);
        emit(Timed { time, value: input })
    }

    fn apply_stamped<E: FnMut(Timed<In>)>(&self, input: In, emit: &mut E, stamps: &Stamps) {
        let time = (self.f)(&input);
        stamps.stamp(time);
        emit(Timed { time, value: input })
    }
}
