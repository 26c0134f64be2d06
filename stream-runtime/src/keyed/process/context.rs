//! `ProcessContext`, what a `process` function sees of its key (named
//! states, timers, time, output), and `Timer`; also how a key's timers are
//! kept in its state and taken when due.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::state::{ListState, MapState, ReducingState, StateCell, ValueState};
use super::{is_due, NamedState, EXPIRY, TIMERS};
use crate::keyed::{KeyTime, StateError, TimeDomain};
use crate::time::Millis;

/// A timer of a key, as `on_timer` receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Timer {
    /// When it was set for, in milliseconds.
    pub at: Millis,
    /// Which clock: the watermark (event time) or the wall clock.
    pub domain: TimeDomain,
}

/// What a `process` function sees of its key: the key itself, its named
/// states, its timers, the time, and the collector for output records.
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::ProcessContext;
///
/// // Counts each key's records, emits every 3rd, and forgets a key that
/// // has been quiet for an hour.
/// fn every_third(word: String, ctx: &mut ProcessContext<'_, String, String>) {
///     let mut seen = ctx.value::<u64>("seen").ttl(Duration::from_secs(3_600));
///     let n = seen.get().unwrap_or(0) + 1;
///     seen.set(n);
///     if n % 3 == 0 {
///         ctx.collect(word);
///     }
/// }
/// # let _ = every_third;
/// ```
pub struct ProcessContext<'a, K, Out> {
    key: &'a K,
    state: &'a mut NamedState,
    out: &'a mut Vec<Out>,
    error: &'a mut Option<StateError>,
    time: &'a mut KeyTime,
}

impl<'a, K, Out> ProcessContext<'a, K, Out> {
    pub(super) fn new(
        key: &'a K,
        state: &'a mut NamedState,
        out: &'a mut Vec<Out>,
        error: &'a mut Option<StateError>,
        time: &'a mut KeyTime,
    ) -> Self {
        Self {
            key,
            state,
            out,
            error,
            time,
        }
    }
}

impl<K, Out> ProcessContext<'_, K, Out> {
    /// The key of the record being processed.
    pub fn key(&self) -> &K {
        self.key
    }

    /// Emits a record downstream.
    pub fn collect(&mut self, record: Out) {
        self.out.push(record);
    }

    /// The key group's watermark (`i64::MIN` before any): event time.
    pub fn watermark(&self) -> Millis {
        self.time.watermark
    }

    /// The wall clock of this call, in milliseconds: processing time. Read
    /// once per call and journaled, so a replay sees the same value.
    pub fn now(&self) -> Millis {
        self.time.now
    }

    /// Keeps `record` in the late-data output (`status.late_records`),
    /// as a window does with a record too late for its windows.
    pub(crate) fn keep_late(&mut self, record: serde_json::Value) {
        self.time.keep_late(record);
    }

    /// Calls `on_timer` once the watermark reaches `at` (Flink's
    /// `registerEventTimeTimer`). Setting the same timer twice sets one.
    pub fn register_event_timer(&mut self, at: Millis) {
        self.set_timer(TimeDomain::Event, at);
    }

    /// Calls `on_timer` once the wall clock reaches `at` (Flink's
    /// `registerProcessingTimeTimer`).
    pub fn register_processing_timer(&mut self, at: Millis) {
        self.set_timer(TimeDomain::Processing, at);
    }

    /// Removes an event-time timer set for `at`.
    pub fn delete_event_timer(&mut self, at: Millis) {
        self.edit_timers(|timers| timers.retain(|t| *t != (TimeDomain::Event, at)));
    }

    /// Removes a processing-time timer set for `at`.
    pub fn delete_processing_timer(&mut self, at: Millis) {
        self.edit_timers(|timers| timers.retain(|t| *t != (TimeDomain::Processing, at)));
    }

    fn set_timer(&mut self, domain: TimeDomain, at: Millis) {
        self.edit_timers(|timers| {
            if !timers.contains(&(domain, at)) {
                timers.push((domain, at));
            }
        });
        self.time.register(domain, at);
    }

    fn edit_timers(&mut self, edit: impl FnOnce(&mut Vec<(TimeDomain, Millis)>)) {
        let mut timers = stored_timers(self.state);
        edit(&mut timers);
        store_timers(self.state, &timers);
    }

    /// The value state `name` of the current key (Flink's `ValueState`).
    pub fn value<V>(&mut self, name: &str) -> ValueState<'_, V>
    where
        V: Serialize + DeserializeOwned,
    {
        ValueState::new(self.cell(name))
    }

    /// The reducing state `name` of the current key (Flink's `ReducingState`):
    /// values added are folded with `reduce` into one.
    pub fn reducing<V, R>(&mut self, name: &str, reduce: R) -> ReducingState<'_, V, R>
    where
        V: Serialize + DeserializeOwned,
        R: Fn(V, V) -> V,
    {
        ReducingState::new(self.cell(name), reduce)
    }

    /// The list state `name` of the current key (Flink's `ListState`).
    pub fn list<V>(&mut self, name: &str) -> ListState<'_, V>
    where
        V: Serialize + DeserializeOwned,
    {
        ListState::new(self.cell(name))
    }

    /// The map state `name` of the current key (Flink's `MapState`).
    pub fn map<MK, V>(&mut self, name: &str) -> MapState<'_, MK, V>
    where
        MK: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        MapState::new(self.cell(name))
    }

    fn cell(&mut self, name: &str) -> StateCell<'_> {
        StateCell::new(name, self.state, self.error, self.time)
    }
}

/// The key's timers as stored.
fn stored_timers(state: &NamedState) -> Vec<(TimeDomain, Millis)> {
    state
        .get(TIMERS)
        .and_then(|json| serde_json::from_value(json.clone()).ok())
        .unwrap_or_default()
}

fn store_timers(state: &mut NamedState, timers: &[(TimeDomain, Millis)]) {
    if timers.is_empty() {
        state.remove(TIMERS);
    } else if let Ok(json) = serde_json::to_value(timers) {
        state.insert(TIMERS.to_owned(), json);
    }
}

/// Takes the key's timers that are due, in time order.
pub(super) fn take_due_timers(state: &mut NamedState, time: &KeyTime) -> Vec<Timer> {
    let (mut due, later): (Vec<_>, Vec<_>) = stored_timers(state)
        .into_iter()
        .partition(|(domain, at)| is_due(*domain, *at, time));
    store_timers(state, &later);
    due.sort_by_key(|(domain, at)| (*at, *domain));
    due.into_iter()
        .map(|(domain, at)| Timer { at, domain })
        .collect()
}

/// Every time the key still wants a visit: its timers and its expiries.
pub(super) fn pending(state: &NamedState) -> Vec<(TimeDomain, Millis)> {
    let mut pending = stored_timers(state);
    let expiries: std::collections::BTreeMap<String, Millis> = state
        .get(EXPIRY)
        .and_then(|json| serde_json::from_value(json.clone()).ok())
        .unwrap_or_default();
    pending.extend(
        expiries
            .into_values()
            .map(|at| (TimeDomain::Processing, at)),
    );
    pending
}
