//! Stateless operators: `map`, `filter`, `flat_map`, `event_time`, composed into one chain
//! that runs inside a single stage without crossing the network.

mod each_side;
mod event_time;
mod filter;
mod flat_map;
mod identity;
mod map;
mod then;

pub use each_side::EachSide;
pub use event_time::EventTime;
pub use filter::Filter;
pub use flat_map::FlatMap;
pub use identity::Identity;
pub use map::Map;
pub use then::Then;

pub use crate::time::Stamps;

/// A push-based, stateless operator: each input yields zero or more outputs.
///
/// Operators are composed with [`Then`] into a chain whose concrete type is
/// known at compile time, so a chain of closures compiles to straight-line
/// code with no dynamic dispatch on the record path.
pub trait Operator<In>: Send + Sync + 'static {
    /// The records this operator emits.
    type Out;

    /// Processes one record, handing each output to `emit`.
    fn apply<E: FnMut(Self::Out)>(&self, input: In, emit: &mut E);

    /// As [`apply`](Operator::apply), telling `stamps` the time of each
    /// record that an [`EventTime`] inside this
    /// operator stamps: the pipeline's watermark follows them, whatever
    /// the stages after them keep of the timestamp. An operator that
    /// holds others forwards it to them; any other keeps this default.
    fn apply_stamped<E: FnMut(Self::Out)>(&self, input: In, emit: &mut E, stamps: &Stamps) {
        let _ = stamps;
        self.apply(input, emit)
    }
}
