//! The `KeyedStage` trait, the keyed part of a pipeline run on a key group's
//! batch, with `Unkeyed` (no keyed stage) and `Keyed` (a key selector and
//! one keyed operator), and the key encoder.

use super::{
    by_key_slots, state_key, write_back, ByKey, Combiner, Cx, Due, GroupState, KeyTime,
    KeyedOperator, Scope, TimeDomain, WriteBack, STATE_KEY_PREFIX,
};
use crate::guard::{guarded, Panicked, RecordFailed, StageError};
use crate::record::{Key, Record};

/// The keyed part of a pipeline: nothing ([`Unkeyed`]), a key selector with
/// one stateful operator ([`Keyed`]), or a window
/// ([`Windowing`](crate::window::Windowing)).
///
/// A stage works on a key group's batch at a time: it names the state
/// entries the batch needs ([`entries`](KeyedStage::entries)), which the
/// handler loads, then [`apply`](KeyedStage::apply) changes them in memory,
/// and the handler writes back what changed once the whole call succeeded.
pub trait KeyedStage<In>: Send + Sync + 'static {
    /// The records the stage emits.
    type Out;
    /// What the stage keeps in its state entries.
    type State;

    /// Whether records go through keyed Virtual Objects at all: every
    /// stage but [`Unkeyed`].
    fn is_keyed(&self) -> bool {
        true
    }

    /// The key of a record, encoded as it is stored and hashed (JSON).
    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error>;

    /// For a stage with no key, hands the record through unchanged;
    /// a keyed stage gives it back as `Err`.
    fn pass_through(&self, record: In) -> Result<Self::Out, In> {
        Err(record)
    }

    /// The clock the stage's timers follow, if it sets any.
    fn domain(&self) -> Option<TimeDomain> {
        None
    }

    /// Whether all the stage emits comes from its event-time timers, each
    /// window fired once: a window on event time with no allowed
    /// lateness, which emits nothing when a batch is applied. The clock
    /// then carries what its wake-up fired to the next keyed stage, each
    /// group there called once with what every woken group fired for it.
    fn fires_once_on_event_time(&self) -> bool {
        false
    }

    /// The stage's combiner, if it has one (see [`KeyedOperator::combiner`]).
    fn combiner(&self) -> Option<Combiner<'_, In>> {
        None
    }

    /// The state entries a batch reads and writes.
    fn entries(&self, batch: &ByKey<In>, scope: &Scope<'_>) -> Vec<String>;

    /// Whether the stage calls out per record (an enrichment stage; see
    /// [`lookups`](KeyedStage::lookups)).
    fn looks_up(&self) -> bool {
        false
    }

    /// The calls a batch makes before it is applied, against the loaded
    /// `state` at wall-clock time `now`; their answers reach
    /// [`apply`](KeyedStage::apply) in its scope's `looked`.
    fn lookups(
        &self,
        _batch: &ByKey<In>,
        _state: &GroupState,
        _now: crate::time::Millis,
    ) -> Result<Vec<crate::lookup::Planned>, RecordFailed> {
        Ok(Vec::new())
    }

    /// How the stage's lookups are made.
    fn lookup_options(&self) -> crate::lookup::Enrich {
        crate::lookup::Enrich::default()
    }

    /// Applies the stage to a batch's records in order, against the
    /// group's state in `cx`, handing each output to `cx.out` and each
    /// record too late for its windows to `cx.late`. The first record that
    /// fails ends the call with its index.
    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, Self::Out>) -> Result<(), RecordFailed>
    where
        Self::State: Record;

    /// Fires the timers that are due (their entries are loaded), handing
    /// what they emit to `cx.out`.
    fn fire(&self, _due: Vec<Due>, _cx: Cx<'_, '_, In, Self::Out>) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        Ok(())
    }

    /// After firing the state entry `entry` failed, and it was put back as
    /// it was: drops from it what was due, which goes to the dead-letter
    /// output, so that its next visit does not fire it again, and keeps
    /// what is due later.
    fn forget(
        &self,
        _entry: &str,
        _state: &mut GroupState,
        _scope: &Scope<'_>,
    ) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        Ok(())
    }
}

/// No keyed stage: records flow from the source stage to the sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unkeyed;

impl<In: Send + Sync + 'static> KeyedStage<In> for Unkeyed {
    type Out = In;
    type State = ();

    fn is_keyed(&self) -> bool {
        false
    }

    fn encode_key(&self, _record: &In) -> Result<String, serde_json::Error> {
        Ok(String::new())
    }

    fn pass_through(&self, record: In) -> Result<In, In> {
        Ok(record)
    }

    fn entries(&self, _batch: &ByKey<In>, _scope: &Scope<'_>) -> Vec<String> {
        Vec::new()
    }

    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, In>) -> Result<(), RecordFailed> {
        let out = cx.out;
        batch
            .records
            .into_iter()
            .for_each(|(_, record)| out(record));
        Ok(())
    }
}

/// A keyed stage whose output another `key_by` can key again: every
/// keyed stage but [`Unkeyed`].
pub trait Chainable {}

impl<KF, Op, K> Chainable for Keyed<KF, Op, K> {}
impl<KF, K, F, Res> Chainable for super::Enriching<KF, K, F, Res> {}

/// `key_by` followed by a stateful operator (`reduce` or `process`), with
/// one state entry per key (`k:<json key>`).
///
/// ```
/// use stream_runtime::keyed::{key_encoder, Keyed, KeyedStage, Reduce, Unkeyed};
///
/// let count = Keyed::new(|w: &(String, u64)| w.0.clone(), key_encoder(), Reduce::new(
///     |(w, a): (String, u64), (_, b): (String, u64)| (w, a + b),
/// ));
/// assert_eq!(count.encode_key(&("to".to_owned(), 1)).unwrap(), r#""to""#);
///
/// // Without `key_by`, a record passes straight through.
/// assert_eq!(KeyedStage::<u8>::pass_through(&Unkeyed, 7), Ok(7));
/// ```
pub struct Keyed<KF, Op, K> {
    by: KeySelector<KF, K>,
    op: Op,
}

/// How a keyed stage keys its records: the user's key function, and the
/// encoder of its key type.
pub(crate) struct KeySelector<KF, K> {
    key_fn: KF,
    encode: KeyEncoder<K>,
}

impl<KF, K> KeySelector<KF, K> {
    pub(crate) fn new(key_fn: KF, encode: KeyEncoder<K>) -> Self {
        Self { key_fn, encode }
    }

    /// The key of `record`.
    pub(crate) fn key<In>(&self, record: &In) -> K
    where
        KF: Fn(&In) -> K,
    {
        (self.key_fn)(record)
    }

    /// The key of `record`, encoded as it is stored and hashed.
    pub(crate) fn encode<In>(&self, record: &In) -> Result<String, serde_json::Error>
    where
        KF: Fn(&In) -> K,
    {
        (self.encode)(&self.key(record))
    }
}

/// Encodes a key as JSON. Taken where `K: Serialize` is checked (on the
/// user's `key_by`), so no later bound repeats that error.
pub type KeyEncoder<K> = fn(&K) -> Result<String, serde_json::Error>;

/// The encoder of a key type.
pub fn key_encoder<K: Key>() -> KeyEncoder<K> {
    |key| serde_json::to_string(key)
}

impl<KF, Op, K> Keyed<KF, Op, K> {
    /// Keys records with `key_fn`, encodes keys with `encode` (see
    /// [`key_encoder`]) and applies `op` per key.
    pub fn new(key_fn: KF, encode: KeyEncoder<K>, op: Op) -> Self {
        Self {
            by: KeySelector::new(key_fn, encode),
            op,
        }
    }
}

impl<In, KF, Op, K> KeyedStage<In> for Keyed<KF, Op, K>
where
    KF: Fn(&In) -> K + Send + Sync + 'static,
    K: 'static,
    Op: KeyedOperator<K, In>,
{
    type Out = Op::Out;
    type State = Op::State;

    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error> {
        self.by.encode(record)
    }

    fn domain(&self) -> Option<TimeDomain> {
        // Reads the wall clock (and the watermark) for timers and TTL.
        self.op.uses_time().then_some(TimeDomain::Processing)
    }

    fn combiner(&self) -> Option<Combiner<'_, In>> {
        self.op.combiner()
    }

    fn entries(&self, batch: &ByKey<In>, _scope: &Scope<'_>) -> Vec<String> {
        batch.keys.iter().map(|key| state_key(key)).collect()
    }

    /// Reads each distinct key's state once, applies the operator to every
    /// record in order, and writes each key's state back once.
    fn apply(&self, batch: ByKey<In>, cx: Cx<'_, '_, In, Op::Out>) -> Result<(), RecordFailed>
    where
        Op::State: Record,
    {
        let Cx {
            state, scope, out, ..
        } = cx;
        let names: Vec<String> = batch.keys.iter().map(|key| state_key(key)).collect();
        let mut states = Vec::with_capacity(names.len());
        for (slot, name) in names.iter().enumerate() {
            let loaded = state.get::<Op::State>(name).map_err(|e| RecordFailed {
                index: by_key_slots(&batch, slot),
                error: e.to_string(),
            })?;
            states.push(loaded);
        }
        let existed: Vec<bool> = states.iter().map(Option::is_some).collect();
        // Each key's first record, which a failure at the batch's end names
        // (kept only for an operator that emits there).
        let per_batch = self.op.emits_per_batch();
        let mut first: Vec<usize> = Vec::new();
        if per_batch {
            first = vec![usize::MAX; names.len()];
        }
        for (index, (slot, record)) in batch.records.into_iter().enumerate() {
            if let Some(first) = first.get_mut(slot) {
                *first = (*first).min(index);
            }
            let key_state = &mut states[slot];
            let mut time = KeyTime::new(scope.watermark, scope.now);
            guarded(|| {
                let key = self.by.key(&record);
                let mut emitted = Vec::new();
                (self.op).apply(&key, key_state, record, &mut time, &mut emitted)?;
                emitted.into_iter().for_each(&mut *out);
                Ok(())
            })
            .map_err(|error: StageError| RecordFailed::new(index, error))?;
            for (domain, at) in time.take_timers() {
                scope.timers.add(domain, at, &names[slot]);
            }
            scope.late.extend(time.take_late());
        }
        for (slot, key_state) in states.iter().enumerate().filter(|_| per_batch) {
            let mut emitted = Vec::new();
            guarded(|| {
                self.op.end_of_batch(key_state, &mut emitted);
                Ok(())
            })
            .map_err(|error: Panicked| {
                RecordFailed::new(first.get(slot).copied().unwrap_or(0), error)
            })?;
            emitted.into_iter().for_each(&mut *out);
        }
        for ((name, key_state), existed) in names.iter().zip(states).zip(existed) {
            store(state, name, existed, key_state).map_err(|e| RecordFailed {
                index: 0,
                error: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Drops the key's due timers from its state.
    fn forget(
        &self,
        entry: &str,
        state: &mut GroupState,
        scope: &Scope<'_>,
    ) -> Result<(), StageError>
    where
        Op::State: Record,
    {
        let mut key_state = state.get::<Op::State>(entry)?;
        let existed = key_state.is_some();
        let time = KeyTime::new(scope.watermark, scope.now);
        self.op.forget_due(&mut key_state, &time);
        Ok(store(state, entry, existed, key_state)?)
    }

    /// Visits each due key: its operator fires its timers and expires its
    /// state; what it asks for next is indexed again.
    fn fire(&self, due: Vec<Due>, cx: Cx<'_, '_, In, Op::Out>) -> Result<(), StageError>
    where
        Op::State: Record,
    {
        let Cx {
            state, scope, out, ..
        } = cx;
        let mut visited: Vec<String> = due.into_iter().map(|d| d.tag).collect();
        visited.dedup();
        for name in visited {
            let Some(key_json) = name.strip_prefix(STATE_KEY_PREFIX) else {
                continue;
            };
            let mut key_state = state.get::<Op::State>(&name)?;
            let existed = key_state.is_some();
            let mut time = KeyTime::new(scope.watermark, scope.now);
            let mut emitted = Vec::new();
            (self.op).visit(key_json, &mut key_state, &mut time, &mut emitted)?;
            emitted.into_iter().for_each(&mut *out);
            for (domain, at) in time.take_timers() {
                scope.timers.add(domain, at, &name);
            }
            store(state, &name, existed, key_state)?;
        }
        Ok(())
    }
}

/// Writes a key's state back: stored, removed, or left alone.
fn store<S: Record>(
    state: &mut GroupState,
    name: &str,
    existed: bool,
    key_state: Option<S>,
) -> Result<(), super::StateError> {
    match write_back(existed, key_state) {
        WriteBack::Set(value) => state.set(name, &value),
        WriteBack::Clear => {
            state.clear(name);
            Ok(())
        }
        WriteBack::Nothing => Ok(()),
    }
}
