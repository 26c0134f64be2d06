//! The key-group runtime, apart from the operators: how keys map to the
//! Virtual Objects that hold their state (`key_group.rs`), a batch split by
//! key (`batch.rs`), records of one key folded before they are sent
//! (`combine.rs`), the entries this process has seen as stored (`cache.rs`), a
//! call's changes as one entry, folded later (`deltas.rs`), the
//! state entries it loads and stores (`state.rs`), the time it sees
//! (`scope.rs`), and its timers (`timers.rs`). The operators that run in a
//! group are in `keyed/` and `window/`; the handlers in `services/keyed.rs`.

mod batch;
mod cache;
mod combine;
mod deltas;
mod key_group;
mod scope;
mod state;
mod timers;

pub use batch::ByKey;
pub(crate) use batch::{by_key_slots, write_back, WriteBack};
pub(crate) use cache::{Loaded, StateCache, VERSION};
pub use combine::Combiner;
pub(crate) use combine::Folded;
pub(crate) use deltas::{decode as decode_delta, plan, Coverage, Merged, Pending, Write, DELTAS};
pub use deltas::{group_entries, DELTA_PREFIX};
pub(crate) use key_group::{key_group, stable_hash, state_key};
pub use key_group::{KeyGroups, STATE_KEY_PREFIX};
pub use scope::{Cx, KeyTime, Scope};
pub use state::GroupState;
pub(crate) use timers::{completed, TIMERS};
pub use timers::{Due, TimeDomain, Timers};
