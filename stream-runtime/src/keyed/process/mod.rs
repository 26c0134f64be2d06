//! `process`: a keyed process function with named state, timers and a
//! time-to-live per state (Flink's `KeyedProcessFunction`).

mod context;
mod state;
#[cfg(test)]
mod tests;

pub use context::{ProcessContext, Timer};
pub use state::{ListState, MapState, ReducingState, ValueState};

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde_json::Value;

use super::{KeyTime, KeyedOperator, StateError, TimeDomain};
use crate::time::Millis;

/// The named states of one key, as stored in Restate. Names starting with
/// `__` are the runtime's: the key's timers and its states' expiry times.
pub type NamedState = BTreeMap<String, Value>;

/// The key's timers, in its named state.
pub(super) const TIMERS: &str = "__timers";
/// When each state with a time-to-live expires, in its named state.
pub(super) const EXPIRY: &str = "__expiry";

/// No `on_timer` callback: timers set by the process function fire nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTimers;

/// `process`: the user's process function `f`, and its `on_timer`
/// callback `g` (or [`NoTimers`]).
pub struct Process<F, G, K, Out> {
    f: F,
    on_timer: G,
    decode: fn(&str) -> Option<K>,
    out: PhantomData<fn() -> Out>,
}

impl<F, K, Out> Process<F, NoTimers, K, Out> {
    /// Wraps the user's process function.
    pub fn new(f: F) -> Self {
        Self {
            f,
            on_timer: NoTimers,
            decode: |_| None,
            out: PhantomData,
        }
    }
}

impl<F, G, K: serde::de::DeserializeOwned, Out> Process<F, G, K, Out> {
    /// Wraps the user's process function and its timer callback.
    pub fn with_timers(f: F, on_timer: G) -> Self {
        Self {
            f,
            on_timer,
            decode: |json| serde_json::from_str(json).ok(),
            out: PhantomData,
        }
    }
}

/// What fires a key's timers: `on_timer = g` of `process`, where `g` is a
/// function of the [`Timer`] and the key's [`ProcessContext`] (Flink's
/// `KeyedProcessFunction.onTimer`).
///
/// ```
/// use stream_runtime::{pipeline, FileSink, ProcessContext, Sequence, Timer};
///
/// // Each key's count, emitted once its key has been quiet for 10 s of
/// // processing time.
/// fn count(_n: u64, ctx: &mut ProcessContext<'_, u64, (u64, u64)>) {
///     let mut seen = ctx.value::<u64>("seen");
///     let n = seen.get().unwrap_or(0) + 1;
///     seen.set(n);
///     // One timer per key: the one set by the key's last record.
///     let quiet = ctx.now() + 10_000;
///     let mut due = ctx.value::<i64>("due");
///     let earlier = due.get();
///     due.set(quiet);
///     if let Some(earlier) = earlier {
///         ctx.delete_processing_timer(earlier);
///     }
///     ctx.register_processing_timer(quiet);
/// }
///
/// fn quiet(_timer: Timer, ctx: &mut ProcessContext<'_, u64, (u64, u64)>) {
///     let key = *ctx.key();
///     if let Some(n) = ctx.value::<u64>("seen").get() {
///         ctx.collect((key, n));
///     }
/// }
///
/// pipeline! {
///     QuietKeys:
///     source(Sequence::new().take(1_000))
///     |> key_by(|n| n % 10)
///     |> process(count, on_timer = quiet)
///     |> sink(FileSink::new("/tmp/quiet-keys.jsonl"))
/// }
/// # let _ = QuietKeys;
/// ```
pub trait OnTimer<K, Out>: Send + Sync + 'static {
    /// Called once per due timer, in time order.
    fn fire(&self, timer: Timer, ctx: &mut ProcessContext<'_, K, Out>);
}

impl<K, Out> OnTimer<K, Out> for NoTimers {
    fn fire(&self, _timer: Timer, _ctx: &mut ProcessContext<'_, K, Out>) {}
}

impl<K, Out, G> OnTimer<K, Out> for G
where
    G: for<'a> Fn(Timer, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
{
    fn fire(&self, timer: Timer, ctx: &mut ProcessContext<'_, K, Out>) {
        self(timer, ctx)
    }
}

impl<K, In, Out, F, G> KeyedOperator<K, In> for Process<F, G, K, Out>
where
    K: 'static,
    Out: 'static,
    F: for<'a> Fn(In, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
    G: OnTimer<K, Out>,
{
    type Out = Out;
    type State = NamedState;

    fn apply(
        &self,
        key: &K,
        state: &mut Option<NamedState>,
        input: In,
        time: &mut KeyTime,
        out: &mut Vec<Out>,
    ) -> Result<(), StateError> {
        let mut named = state.take().unwrap_or_default();
        let mut error = None;
        let mut ctx = ProcessContext::new(key, &mut named, out, &mut error, time);
        (self.f)(input, &mut ctx);
        *state = Some(named).filter(|named| !named.is_empty());
        error.map_or(Ok(()), Err)
    }

    /// A visit: clears the states whose time-to-live ran out, then fires
    /// every due timer with `on_timer`, in time order.
    fn visit(
        &self,
        key_json: &str,
        state: &mut Option<NamedState>,
        time: &mut KeyTime,
        out: &mut Vec<Out>,
    ) -> Result<(), StateError> {
        let Some(mut named) = state.take() else {
            return Ok(());
        };
        state::expire(&mut named, time.now);
        let due = context::take_due_timers(&mut named, time);
        let mut error = None;
        if let (false, Some(key)) = (due.is_empty(), (self.decode)(key_json)) {
            for timer in due {
                let mut ctx = ProcessContext::new(&key, &mut named, out, &mut error, time);
                self.on_timer.fire(timer, &mut ctx);
            }
        }
        // What is left still wants its visits.
        for (domain, at) in context::pending(&named) {
            time.register(domain, at);
        }
        *state = Some(named).filter(|named| !named.is_empty());
        error.map_or(Ok(()), Err)
    }

    fn forget_due(&self, state: &mut Option<NamedState>, time: &KeyTime) {
        if let Some(named) = state {
            context::take_due_timers(named, time);
        }
        if state.as_ref().is_some_and(|named| named.is_empty()) {
            *state = None;
        }
    }

    fn uses_time(&self) -> bool {
        true
    }
}

/// When a timer or an expiry in `named` is due, by its clock.
fn is_due(domain: TimeDomain, at: Millis, time: &KeyTime) -> bool {
    match domain {
        TimeDomain::Event => at <= time.watermark,
        TimeDomain::Processing => at <= crate::keyed::completed(time.now),
    }
}
