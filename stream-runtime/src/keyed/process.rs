use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{KeyedOperator, StateError};

/// The named states of one key, as stored in Restate.
pub type NamedState = BTreeMap<String, Value>;

/// `process`: a keyed process function with named value and reducing state,
/// the current key, and an output collector (Flink's `KeyedProcessFunction`).
pub struct Process<F, Out> {
    f: F,
    out: PhantomData<fn() -> Out>,
}

impl<F, Out> Process<F, Out> {
    /// Wraps the user's process function.
    pub fn new(f: F) -> Self {
        Self {
            f,
            out: PhantomData,
        }
    }
}

impl<K, In, Out, F> KeyedOperator<K, In> for Process<F, Out>
where
    K: 'static,
    Out: 'static,
    F: for<'a> Fn(In, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
{
    type Out = Out;
    type State = NamedState;

    fn apply(
        &self,
        key: &K,
        state: &mut Option<NamedState>,
        input: In,
        out: &mut Vec<Out>,
    ) -> Result<(), StateError> {
        let mut named = state.take().unwrap_or_default();
        let mut error = None;
        let mut ctx = ProcessContext {
            key,
            state: &mut named,
            out,
            error: &mut error,
        };
        (self.f)(input, &mut ctx);
        if !named.is_empty() {
            *state = Some(named);
        }
        error.map_or(Ok(()), Err)
    }
}

/// What a `process` function sees of its key: the key itself, its named
/// states, and the collector for output records.
///
/// ```
/// use stream_runtime::ProcessContext;
///
/// // Counts each key's records and emits every 3rd one.
/// fn every_third(word: String, ctx: &mut ProcessContext<'_, String, String>) {
///     let mut seen = ctx.value::<u64>("seen");
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

    /// The value state `name` of the current key (Flink's `ValueState`).
    pub fn value<V>(&mut self, name: &str) -> ValueState<'_, V>
    where
        V: Serialize + DeserializeOwned,
    {
        ValueState {
            cell: StateCell {
                name: name.to_owned(),
                state: self.state,
                error: self.error,
            },
            value: PhantomData,
        }
    }

    /// The reducing state `name` of the current key (Flink's `ReducingState`):
    /// values added are folded with `reduce` into one.
    pub fn reducing<V, R>(&mut self, name: &str, reduce: R) -> ReducingState<'_, V, R>
    where
        V: Serialize + DeserializeOwned,
        R: Fn(V, V) -> V,
    {
        ReducingState {
            cell: StateCell {
                name: name.to_owned(),
                state: self.state,
                error: self.error,
            },
            reduce,
            value: PhantomData,
        }
    }
}

/// One named state entry of a key, with typed access.
struct StateCell<'s> {
    name: String,
    state: &'s mut NamedState,
    error: &'s mut Option<StateError>,
}

impl StateCell<'_> {
    fn get<V: DeserializeOwned>(&mut self) -> Option<V> {
        let stored = self.state.get(&self.name)?;
        match V::deserialize(stored) {
            Ok(value) => Some(value),
            Err(e) => {
                self.error.get_or_insert(StateError {
                    name: self.name.clone(),
                    type_name: std::any::type_name::<V>(),
                    reason: e.to_string(),
                });
                None
            }
        }
    }

    fn set<V: Serialize>(&mut self, value: V) {
        match serde_json::to_value(value) {
            Ok(json) => {
                self.state.insert(self.name.clone(), json);
            }
            Err(e) => {
                self.error.get_or_insert(StateError {
                    name: self.name.clone(),
                    type_name: std::any::type_name::<V>(),
                    reason: e.to_string(),
                });
            }
        }
    }

    fn clear(&mut self) {
        self.state.remove(&self.name);
    }
}

/// A single value per key (Flink's `ValueState`).
pub struct ValueState<'s, V> {
    cell: StateCell<'s>,
    value: PhantomData<fn() -> V>,
}

impl<V: Serialize + DeserializeOwned> ValueState<'_, V> {
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
pub struct ReducingState<'s, V, R> {
    cell: StateCell<'s>,
    reduce: R,
    value: PhantomData<fn() -> V>,
}

impl<V, R> ReducingState<'_, V, R>
where
    V: Serialize + DeserializeOwned,
    R: Fn(V, V) -> V,
{
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
