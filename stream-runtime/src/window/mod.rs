//! Windows: tumbling, sliding and session windows per key, on event time
//! or processing time, with allowed lateness (Flink's `WindowedStream`).
//!
//! ```text
//! key_by(|r| r.device) |> window(tumbling(10s)) |> aggregate(Avg::default(), |acc, r| acc.add(r.temp))
//! ```
//!
//! A window `[start, end)` fires once the watermark reaches `end - 1` (its
//! last millisecond, as in Flink), emitting one [`Windowed`] per key. With
//! allowed lateness `l`, it is kept until the watermark reaches
//! `end - 1 + l`, and each late record still inside that bound emits the
//! key's updated result again. A record that belongs only to windows past
//! that bound goes to the late-data output (`status.late_records`).

mod aggregate;
mod assign;
mod late_data;
mod panes;
#[cfg(test)]
mod session_tests;
mod sessions;
mod stage;
#[cfg(test)]
mod tests;

pub use aggregate::{AggregateWith, ReduceWith, WindowFn};
pub use assign::{session, sliding, tumbling, Window, WindowKind, WindowSpec};
pub use late_data::LateToSide;
pub use stage::{Stamp, WindowEntry, Windowing};

use serde::{Deserialize, Serialize};

use crate::keyed::TimeDomain;
use crate::time::{Millis, Timed};

/// One window's result for one key: what a window's `aggregate` or
/// `reduce` emits, and what a later stage keys by (`key_by(|w| w.start)`).
///
/// ```
/// use stream_runtime::window::Windowed;
///
/// let clicks = Windowed { key: "/home".to_string(), start: 10_000, end: 20_000, value: 42u64 };
/// assert_eq!(
///     serde_json::to_string(&clicks).unwrap(),
///     r#"{"key":"/home","start":10000,"end":20000,"value":42}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windowed<K, V> {
    /// The key.
    pub key: K,
    /// The window's first millisecond.
    pub start: Millis,
    /// The millisecond after its last.
    pub end: Millis,
    /// The aggregate of the key's records in the window.
    pub value: V,
}

/// Windows over event time: the records' own timestamps, from `event_time`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnEventTime;

/// Windows over processing time: the wall clock when a record reaches its
/// key group.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnProcessingTime;

/// The time a window of domain `Self` gives a record of type `In`.
#[diagnostic::on_unimplemented(
    message = "an event-time window needs timestamped records, and `{In}` has none",
    label = "this window is on event time",
    note = "add `event_time(|r| r.ts_millis, max_delay = 5s)` before `key_by`, or window on processing time: `window(tumbling(10s), time = processing)`"
)]
pub trait WindowTime<In>: Send + Sync + 'static {
    /// What the window aggregates: the record without its timestamp.
    type Value;
    /// The clock this domain follows.
    const DOMAIN: TimeDomain;
    /// The record's event time (`None` on processing time).
    fn time(record: &In) -> Option<Millis>;
    /// The record's value.
    fn value(record: In) -> Self::Value;
}

impl<V: 'static> WindowTime<Timed<V>> for OnEventTime {
    type Value = V;
    const DOMAIN: TimeDomain = TimeDomain::Event;
    fn time(record: &Timed<V>) -> Option<Millis> {
        Some(record.time)
    }
    fn value(record: Timed<V>) -> V {
        record.value
    }
}

/// A window's result on event time: its window's last millisecond, as in
/// Flink (`TimeWindow.maxTimestamp()`), so a second window, or an event
/// timer, over a first window's results works.
impl<K: 'static, V: 'static> WindowTime<Windowed<K, V>> for OnEventTime {
    type Value = Windowed<K, V>;
    const DOMAIN: TimeDomain = TimeDomain::Event;
    fn time(record: &Windowed<K, V>) -> Option<Millis> {
        Some(record.end - 1)
    }
    fn value(record: Windowed<K, V>) -> Windowed<K, V> {
        record
    }
}

/// Either input of a join on event time: each side's time, as a window
/// over that side alone would take it, so a window over both (Flink's
/// window join) works after a `join` of two timed inputs.
impl<A: 'static, B: 'static> WindowTime<crate::source::Either<A, B>> for OnEventTime
where
    OnEventTime: WindowTime<A> + WindowTime<B>,
{
    type Value = crate::source::Either<
        <OnEventTime as WindowTime<A>>::Value,
        <OnEventTime as WindowTime<B>>::Value,
    >;
    const DOMAIN: TimeDomain = TimeDomain::Event;
    fn time(record: &crate::source::Either<A, B>) -> Option<Millis> {
        record.either(
            <OnEventTime as WindowTime<A>>::time,
            <OnEventTime as WindowTime<B>>::time,
        )
    }
    fn value(record: crate::source::Either<A, B>) -> Self::Value {
        use crate::source::Either;
        match record {
            Either::Left(a) => Either::Left(<OnEventTime as WindowTime<A>>::value(a)),
            Either::Right(b) => Either::Right(<OnEventTime as WindowTime<B>>::value(b)),
        }
    }
}

/// A window's result carries its event time: its window's last millisecond.
impl<K, V> crate::time::EventTimed for Windowed<K, V> {
    fn event_time(&self) -> Millis {
        self.end - 1
    }
}

impl<In: 'static> WindowTime<In> for OnProcessingTime {
    type Value = In;
    const DOMAIN: TimeDomain = TimeDomain::Processing;
    fn time(_record: &In) -> Option<Millis> {
        None
    }
    fn value(record: In) -> In {
        record
    }
}
