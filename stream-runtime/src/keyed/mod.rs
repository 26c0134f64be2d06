//! Keyed, stateful operators: `reduce`, `process`, `interval_join`, and
//! the keyed stage that runs one in a key group (`stage.rs`). The group
//! runtime they run in (state entries, timers, key groups) is in the
//! crate's `group/`, and what operators name of it is re-exported here.

mod enrich;
mod interval_join;
mod paired;
mod process;
mod reduce;
mod stage;

pub(crate) use crate::group::{
    by_key_slots, completed, decode_delta, key_group, plan, state_key, write_back, Coverage,
    Folded, Loaded, Merged, Pending, StateCache, Write, WriteBack, DELTAS, TIMERS, VERSION,
};
// The key-group plumbing the operator traits' methods name: public types in
// a private module, so that they do not become API a user can name.
pub use crate::group::{
    group_entries, Combiner, KeyGroups, KeyTime, TimeDomain, DELTA_PREFIX, STATE_KEY_PREFIX,
};
pub(crate) use crate::group::{ByKey, Cx, Due, GroupState, Scope, Timers};
pub use crate::guard::{Panicked, RecordFailed, StageError, StateError};
pub use enrich::{Cached, Enriching};
pub(crate) use interval_join::interval_join;
pub use interval_join::{between, Between, JoinRecord};
pub use paired::Paired;
pub use process::{
    ListState, MapState, NamedState, NoTimers, OnTimer, Process, ProcessContext, ReducingState,
    Timer, ValueState,
};
pub use reduce::{Emit, Reduce};
pub(crate) use stage::KeySelector;
pub use stage::{key_encoder, Chainable, KeyEncoder, Keyed, KeyedStage, Unkeyed};

/// A stateful operator applied per key, like Flink's `KeyedProcessFunction`.
///
/// The runtime loads the key's state from Restate before the call and stores
/// it back after the batch, inside the same exclusive Virtual Object
/// invocation, so each record updates its key's state exactly once.
pub trait KeyedOperator<K, In>: Send + Sync + 'static {
    /// The records this operator emits.
    type Out;
    /// The state kept per key. It is stored as JSON, so the pipeline's
    /// `sink` requires it to be a [`Record`](crate::record::Record).
    type State;

    /// Processes one record of `key`, reading and updating its `state`,
    /// and setting timers on `time`.
    ///
    /// Fails only when stored state cannot be decoded as the type the
    /// operator asks for; the batch's keyed call then answers the record as
    /// failed, writing nothing, and the caller retries it or dead-letters it.
    fn apply(
        &self,
        key: &K,
        state: &mut Option<Self::State>,
        input: In,
        time: &mut KeyTime,
        out: &mut Vec<Self::Out>,
    ) -> Result<(), StateError>;

    /// Visits the key (encoded as `key_json`) at a time it asked for:
    /// fires its due timers and expires its state.
    fn visit(
        &self,
        _key_json: &str,
        _state: &mut Option<Self::State>,
        _time: &mut KeyTime,
        _out: &mut Vec<Self::Out>,
    ) -> Result<(), StateError> {
        Ok(())
    }

    /// Drops the key's timers that are due at `time`, after a visit that
    /// fired them failed: they are dead-lettered, and the key's later
    /// timers stay.
    fn forget_due(&self, _state: &mut Option<Self::State>, _time: &KeyTime) {}

    /// Whether the operator reads the clocks or sets timers; its key group
    /// then reads the wall clock once per call.
    fn uses_time(&self) -> bool {
        false
    }

    /// Whether the operator emits per batch rather than per record (see
    /// [`Emit::LatestPerBatch`]): [`end_of_batch`](Self::end_of_batch) is
    /// then called.
    fn emits_per_batch(&self) -> bool {
        false
    }

    /// Called once per key a batch touched, after its last record, when
    /// the operator [emits per batch](Self::emits_per_batch).
    fn end_of_batch(&self, _key_state: &Option<Self::State>, _out: &mut Vec<Self::Out>) {}

    /// A combiner that folds a batch's records of one key into one before
    /// they are sent to the key's group, when the operator's results do
    /// not change by it (see [`Combiner`]).
    fn combiner(&self) -> Option<Combiner<'_, In>> {
        None
    }
}
