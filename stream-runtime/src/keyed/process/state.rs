//! The kinds of keyed state a `process` function names (Flink's
//! `ValueState`, `ReducingState`, `ListState` and `MapState`), each stored
//! as one JSON entry of the key's named state, each with an optional
//! time-to-live.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{NamedState, EXPIRY};
use crate::keyed::{KeyTime, StateError, TimeDomain};
use crate::time::{millis, Millis};

/// One named state entry of a key, with typed access and its time-to-live.
pub(super) struct StateCell<'s> {
    name: String,
    state: &'s mut NamedState,
    error: &'s mut Option<StateError>,
    time: &'s mut KeyTime,
    ttl: Option<Millis>,
}

impl<'s> StateCell<'s> {
    pub(super) fn new(
        name: &str,
        state: &'s mut NamedState,
        error: &'s mut Option<StateError>,
        time: &'s mut KeyTime,
    ) -> Self {
        Self {
            name: name.to_owned(),
            state,
            error,
            time,
            ttl: None,
        }
    }

    fn fail<V>(&mut self, reason: String) {
        self.error.get_or_insert(StateError {
            name: self.name.clone(),
            type_name: std::any::type_name::<V>(),
            reason,
        });
    }

    /// The stored value; an expired one reads as absent.
    fn get<V: DeserializeOwned>(&mut self) -> Option<V> {
        if expiries(self.state)
            .get(&self.name)
            .is_some_and(|at| *at <= self.time.now)
        {
            self.clear();
            return None;
        }
        let stored = self.state.get(&self.name)?;
        match V::deserialize(stored) {
            Ok(value) => Some(value),
            Err(e) => {
                self.fail::<V>(e.to_string());
                None
            }
        }
    }

    /// Stores a value; with a time-to-live, it expires that long after
    /// this write (Flink's `OnCreateAndWrite`).
    fn set<V: Serialize>(&mut self, value: V) {
        match serde_json::to_value(value) {
            Ok(json) => {
                self.state.insert(self.name.clone(), json);
                if let Some(ttl) = self.ttl {
                    let at = self.time.now.saturating_add(ttl);
                    let mut expiries = expiries(self.state);
                    expiries.insert(self.name.clone(), at);
                    store_expiries(self.state, &expiries);
                    self.time.register(TimeDomain::Processing, at);
                }
            }
            Err(e) => self.fail::<V>(e.to_string()),
        }
    }

    fn clear(&mut self) {
        self.state.remove(&self.name);
        let mut expiries = expiries(self.state);
        if expiries.remove(&self.name).is_some() {
            store_expiries(self.state, &expiries);
        }
    }
}

fn expiries(state: &NamedState) -> BTreeMap<String, Millis> {
    state
        .get(EXPIRY)
        .and_then(|json| serde_json::from_value(json.clone()).ok())
        .unwrap_or_default()
}

fn store_expiries(state: &mut NamedState, expiries: &BTreeMap<String, Millis>) {
    if expiries.is_empty() {
        state.remove(EXPIRY);
    } else if let Ok(json) = serde_json::to_value(expiries) {
        state.insert(EXPIRY.to_owned(), json);
    }
}

/// Removes every state whose time-to-live ran out by `now`.
pub(super) fn expire(state: &mut NamedState, now: Millis) {
    let mut expiries = expiries(state);
    let expired: Vec<String> = expiries
        .iter()
        .filter(|(_, at)| **at <= now)
        .map(|(name, _)| name.clone())
        .collect();
    if expired.is_empty() {
        return;
    }
    for name in expired {
        state.remove(&name);
        expiries.remove(&name);
    }
    store_expiries(state, &expiries);
}

/// Gives a state kind a time-to-live.
macro_rules! ttl {
    () => {
        /// Expires the state `ttl` after it was last written: reads then
        /// find nothing, and the key's state is removed from Restate at
        /// that time (Flink's `StateTtlConfig` with `OnCreateAndWrite`, on
        /// processing time).
        pub fn ttl(mut self, ttl: Duration) -> Self {
            self.cell.ttl = Some(millis(ttl));
            self
        }
    };
}

/// A single value per key (Flink's `ValueState`).
///
/// ```
/// use stream_runtime::{CollectSink, Pipeline, ProcessContext, Sequence};
///
/// let pipeline = Pipeline::named("Highest")
///     .source(Sequence::new().take(100))
///     .key_by(|n| n % 10)
///     .process(|n: u64, ctx: &mut ProcessContext<u64, u64>| {
///         // Each key's highest number so far, emitted when it grows.
///         if ctx.value::<u64>("highest").get().is_none_or(|h| n > h) {
///             ctx.value("highest").set(n);
///             ctx.collect(n);
///         }
///     })
///     .sink(CollectSink::new());
/// # let _ = pipeline;
/// ```
pub struct ValueState<'s, V> {
    cell: StateCell<'s>,
    value: PhantomData<fn() -> V>,
}

impl<'s, V: Serialize + DeserializeOwned> ValueState<'s, V> {
    pub(super) fn new(cell: StateCell<'s>) -> Self {
        Self {
            cell,
            value: PhantomData,
        }
    }

    ttl!();

    /// The stored value, if any.
    pub fn get(&mut self) -> Option<V> {
        self.cell.get()
    }

    /// Replaces the stored value.
    pub fn set(&mut self, value: V) {
        self.cell.set(value)
    }

    /// Removes the stored value.
    pub fn clear(&mut self) {
        self.cell.clear()
    }
}

/// A value per key that folds every added value in (Flink's `ReducingState`).
///
/// ```
/// use stream_runtime::{CollectSink, Pipeline, ProcessContext, Sequence};
///
/// let pipeline = Pipeline::named("Sums")
///     .source(Sequence::new().take(100))
///     .key_by(|n| n % 10)
///     .process(|n: u64, ctx: &mut ProcessContext<u64, u64>| {
///         let mut sum = ctx.reducing("sum", |a: u64, b: u64| a + b);
///         sum.add(n);
///         let total = sum.get().unwrap_or(0);
///         ctx.collect(total);
///     })
///     .sink(CollectSink::new());
/// # let _ = pipeline;
/// ```
pub struct ReducingState<'s, V, R> {
    cell: StateCell<'s>,
    reduce: R,
    value: PhantomData<fn() -> V>,
}

impl<'s, V, R> ReducingState<'s, V, R>
where
    V: Serialize + DeserializeOwned,
    R: Fn(V, V) -> V,
{
    pub(super) fn new(cell: StateCell<'s>, reduce: R) -> Self {
        Self {
            cell,
            reduce,
            value: PhantomData,
        }
    }

    ttl!();

    /// Folds `value` into the stored aggregate.
    pub fn add(&mut self, value: V) {
        let next = match self.cell.get() {
            Some(acc) => (self.reduce)(acc, value),
            None => value,
        };
        self.cell.set(next)
    }

    /// The aggregate so far, if anything was added.
    pub fn get(&mut self) -> Option<V> {
        self.cell.get()
    }

    /// Removes the aggregate.
    pub fn clear(&mut self) {
        self.cell.clear()
    }
}

/// A list of values per key (Flink's `ListState`).
///
/// ```
/// use stream_runtime::{CollectSink, Pipeline, ProcessContext, Sequence};
///
/// let pipeline = Pipeline::named("LastThree")
///     .source(Sequence::new().take(100))
///     .key_by(|n| n % 10)
///     .process(|n: u64, ctx: &mut ProcessContext<u64, Vec<u64>>| {
///         let mut seen = ctx.list::<u64>("seen");
///         seen.add(n);
///         let mut all = seen.get();
///         if all.len() > 3 {
///             all.remove(0);
///             seen.update(all.clone()); // keep the last three only
///         }
///         ctx.collect(all);
///     })
///     .sink(CollectSink::new());
/// # let _ = pipeline;
/// ```
pub struct ListState<'s, V> {
    cell: StateCell<'s>,
    value: PhantomData<fn() -> V>,
}

impl<'s, V: Serialize + DeserializeOwned> ListState<'s, V> {
    pub(super) fn new(cell: StateCell<'s>) -> Self {
        Self {
            cell,
            value: PhantomData,
        }
    }

    ttl!();

    /// Every value, in the order added (empty when none).
    pub fn get(&mut self) -> Vec<V> {
        self.cell.get().unwrap_or_default()
    }

    /// Appends a value.
    pub fn add(&mut self, value: V) {
        let mut values: Vec<Value> = self.cell.get().unwrap_or_default();
        match serde_json::to_value(value) {
            Ok(json) => values.push(json),
            Err(e) => return self.cell.fail::<V>(e.to_string()),
        }
        self.cell.set(values)
    }

    /// Replaces every value.
    pub fn update(&mut self, values: Vec<V>) {
        if values.is_empty() {
            self.cell.clear();
        } else {
            self.cell.set(values)
        }
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.cell.clear()
    }
}

/// A map per key (Flink's `MapState`); its keys are stored as JSON text.
///
/// ```
/// use stream_runtime::{CollectSink, Pipeline, ProcessContext, Sequence};
///
/// let pipeline = Pipeline::named("FirstSeen")
///     .source(Sequence::new().take(100))
///     .key_by(|n| n % 10)
///     .process(|n: u64, ctx: &mut ProcessContext<u64, (u64, u64)>| {
///         // Per key, the first number seen in each ten.
///         let mut firsts = ctx.map::<u64, u64>("firsts");
///         if !firsts.contains(&(n / 10)) {
///             firsts.put(n / 10, n);
///             ctx.collect((n / 10, n));
///         }
///     })
///     .sink(CollectSink::new());
/// # let _ = pipeline;
/// ```
pub struct MapState<'s, MK, V> {
    cell: StateCell<'s>,
    types: PhantomData<fn() -> (MK, V)>,
}

impl<'s, MK, V> MapState<'s, MK, V>
where
    MK: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    pub(super) fn new(cell: StateCell<'s>) -> Self {
        Self {
            cell,
            types: PhantomData,
        }
    }

    ttl!();

    fn stored(&mut self) -> BTreeMap<String, Value> {
        self.cell.get().unwrap_or_default()
    }

    fn encode(&mut self, key: &MK) -> Option<String> {
        match serde_json::to_string(key) {
            Ok(text) => Some(text),
            Err(e) => {
                self.cell.fail::<MK>(e.to_string());
                None
            }
        }
    }

    /// The value under `key`, if any.
    pub fn get(&mut self, key: &MK) -> Option<V> {
        let key = self.encode(key)?;
        let value = self.stored().remove(&key)?;
        match V::deserialize(value) {
            Ok(value) => Some(value),
            Err(e) => {
                self.cell.fail::<V>(e.to_string());
                None
            }
        }
    }

    /// Whether `key` has a value.
    pub fn contains(&mut self, key: &MK) -> bool {
        let Some(key) = self.encode(key) else {
            return false;
        };
        self.stored().contains_key(&key)
    }

    /// Puts `value` under `key`.
    pub fn put(&mut self, key: MK, value: V) {
        let (Some(key), Ok(value)) = (self.encode(&key), serde_json::to_value(value)) else {
            return self.cell.fail::<V>("cannot serialize the entry".to_owned());
        };
        let mut map = self.stored();
        map.insert(key, value);
        self.cell.set(map)
    }

    /// Removes `key`'s value.
    pub fn remove(&mut self, key: &MK) {
        let Some(key) = self.encode(key) else {
            return;
        };
        let mut map = self.stored();
        if map.remove(&key).is_some() {
            if map.is_empty() {
                self.cell.clear();
            } else {
                self.cell.set(map);
            }
        }
    }

    /// Every entry, by key order of their JSON text.
    pub fn entries(&mut self) -> Vec<(MK, V)> {
        let mut entries = Vec::new();
        for (key, value) in self.stored() {
            match (serde_json::from_str(&key), V::deserialize(value)) {
                (Ok(key), Ok(value)) => entries.push((key, value)),
                _ => self
                    .cell
                    .fail::<V>(format!("the entry `{key}` does not decode")),
            }
        }
        entries
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.cell.clear()
    }
}
