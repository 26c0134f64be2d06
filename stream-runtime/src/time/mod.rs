//! Event time: timestamps on records, and the watermarks that say how far
//! event time has progressed (Flink's `WatermarkStrategy`).
//!
//! `event_time(f, ..)` stamps each record with `f(&record)` (milliseconds)
//! and wraps it in [`Timed`]. Each source split's watermark is the largest
//! timestamp it has delivered, minus the allowed delay, minus 1 (Flink's
//! bounded out-of-orderness generator); the pipeline's watermark is the
//! least over the splits that are not idle (`watermark.rs`).

pub(crate) mod watermark;

/// The `tracing` target of the event the clock emits each time the
/// watermark advances, with the fields `pipeline` and `watermark`.
pub const WATERMARK_TARGET: &str = "stream_runtime::watermark";

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch: event timestamps, watermarks and
/// window bounds.
pub type Millis = i64;

/// A record with its event timestamp, as `event_time` emits it.
///
/// It dereferences to the record, so a following `filter(|r| r.temp > 40.0)`
/// or `key_by(|r| r.device)` reads the record's fields directly.
///
/// ```
/// use stream_runtime::time::Timed;
///
/// let reading = Timed { time: 1_000, value: (7, 21.5) };
/// assert_eq!(reading.0, 7);
/// assert_eq!(reading.map(|(_, temp)| temp).value, 21.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timed<T> {
    /// When the record happened, in milliseconds.
    pub time: Millis,
    /// The record.
    pub value: T,
}

/// A record that carries its event time: a [`Timed`] record, or a
/// window's result (its window's last millisecond). The inputs of an
/// interval join after a [`join`](crate::Stream::join) are such records.
#[diagnostic::on_unimplemented(
    message = "`{Self}` carries no event time for this join",
    label = "each input of an interval join after `join` needs its event time",
    note = "give the input `event_time(..)` before its keyed stage, keep the `Timed` wrapper through it, or end it in a window"
)]
pub trait EventTimed {
    /// The record's event time, in milliseconds.
    fn event_time(&self) -> Millis;
}

impl<T> EventTimed for Timed<T> {
    fn event_time(&self) -> Millis {
        self.time
    }
}

impl<T> Timed<T> {
    /// The same timestamp on a transformed record.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Timed<U> {
        Timed {
            time: self.time,
            value: f(self.value),
        }
    }
}

impl<T> std::ops::Deref for Timed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// How a pipeline's watermarks are generated (Flink's
/// `WatermarkStrategy.forBoundedOutOfOrderness(..).withIdleness(..)`).
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::time::Watermarks;
///
/// let strategy = Watermarks::max_delay(Duration::from_secs(5)).idle(Duration::from_secs(30));
/// assert_eq!(strategy.delay_millis(), 5_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    max_delay: Millis,
    idle: Millis,
}

impl Watermarks {
    /// How long an idle split holds the watermark back by default.
    pub const DEFAULT_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

    /// Records may arrive up to `delay` behind the latest timestamp seen on
    /// their split and still be on time.
    pub fn max_delay(delay: std::time::Duration) -> Self {
        Self {
            max_delay: millis(delay),
            idle: millis(Self::DEFAULT_IDLE),
        }
    }

    /// A split with no data for `after` stops holding the watermark back,
    /// until it has data again.
    pub fn idle(mut self, after: std::time::Duration) -> Self {
        self.idle = millis(after);
        self
    }

    /// The allowed delay, in milliseconds.
    pub fn delay_millis(&self) -> Millis {
        self.max_delay
    }

    /// The idle timeout, in milliseconds.
    pub fn idle_millis(&self) -> Millis {
        self.idle
    }

    /// One strategy for two inputs: the larger delay and the longer idle
    /// timeout, so that a record on time on its own input is on time
    /// after the join too.
    pub(crate) fn wider(a: Self, b: Self) -> Self {
        Self {
            max_delay: a.max_delay.max(b.max_delay),
            idle: a.idle.max(b.idle),
        }
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(duration: std::time::Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// The wall clock, in milliseconds. Handlers read it inside `ctx.run`, so
/// a replay sees the same value.
pub(crate) fn wall_clock() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

/// The event times that `event_time` stamped on a range's records: the
/// largest, which moves its split's watermark. A range with none delivered
/// no event (its records were all filtered out before `event_time`, say),
/// so it does not keep its split from going idle.
///
/// ```
/// use stream_runtime::operator::{EventTime, Filter, Operator, Then};
/// use stream_runtime::time::Stamps;
///
/// let stamp = Then::new(Filter::new(|n: &i64| n % 2 == 0), EventTime::new(|n: &i64| *n));
/// let stamps = Stamps::default();
/// for n in [4, 7, 2] {
///     stamp.apply_stamped(n, &mut |_| {}, &stamps);
/// }
/// assert_eq!(stamps.max(), Some(4), "7 was filtered out before it was stamped");
/// ```
#[derive(Debug, Default)]
pub struct Stamps {
    max: std::cell::Cell<Option<Millis>>,
}

impl Stamps {
    /// Notes a record stamped with `time`.
    pub fn stamp(&self, time: Millis) {
        self.max.set(self.max.get().max(Some(time)));
    }

    /// The largest time stamped, if any record was.
    pub fn max(&self) -> Option<Millis> {
        self.max.get()
    }
}
