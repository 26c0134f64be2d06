//! One call of a key group as a keyed stage sees it: `Scope` (time,
//! timers, late records, enrichment results), `Cx` (the state entries, the
//! `Scope`, and where output goes), and `KeyTime`, one key's view of time.

use super::{GroupState, TimeDomain, Timers};
use crate::time::Millis;

/// What a keyed stage sees of time in one call of its key group: the
/// watermark and the wall clock (journaled, so a replay sees the same
/// value), and the group's timers, which it sets and clears.
#[derive(Debug)]
pub struct Scope<'a> {
    /// The group's watermark for this call (`Millis::MIN` before any).
    pub watermark: Millis,
    /// The wall clock, read once per call (0 when the stage uses none).
    pub now: Millis,
    /// The group's timers.
    pub timers: &'a mut Timers,
    /// Records found too late (as JSON), for the late-data output: by a
    /// keyed operator, or given to a stage's `late` while it fired.
    pub late: Vec<serde_json::Value>,
    /// What an enrichment stage's lookups answered, in the order they
    /// answered: the records of the batch each answers, and its answer.
    pub looked: Vec<(Vec<usize>, crate::lookup::Answered)>,
    /// Records an enrichment stage could not enrich (as JSON), and why:
    /// for the dead-letter output.
    pub dropped: Vec<(Option<serde_json::Value>, String)>,
}

/// One call of a key group, as a keyed stage applies a batch or fires
/// timers in it: the group's state entries, its [`Scope`], and where the
/// stage's output and the records too late for their windows go.
pub struct Cx<'c, 's, In, Out> {
    /// The state entries the call loaded.
    pub state: &'c mut GroupState,
    /// The call's time, and the group's timers.
    pub scope: &'c mut Scope<'s>,
    /// Where the stage's output goes.
    pub out: &'c mut dyn FnMut(Out),
    /// Where a record too late for every window it belongs to goes.
    pub late: &'c mut dyn FnMut(In),
}

/// What a keyed operator sees of time for one key: the watermark, the
/// wall clock, and the timers it sets (which the key group indexes).
#[derive(Debug, Default)]
pub struct KeyTime {
    /// The group's watermark (`Millis::MIN` before any).
    pub watermark: Millis,
    /// The wall clock of this call.
    pub now: Millis,
    timers: Vec<(TimeDomain, Millis)>,
    late: Vec<serde_json::Value>,
}

impl KeyTime {
    /// The time of one call.
    pub fn new(watermark: Millis, now: Millis) -> Self {
        Self {
            watermark,
            now,
            timers: Vec::new(),
            late: Vec::new(),
        }
    }

    /// Asks for a visit of the key at `at` on `domain`'s clock.
    pub fn register(&mut self, domain: TimeDomain, at: Millis) {
        self.timers.push((domain, at));
    }

    /// The visits asked for.
    pub fn take_timers(&mut self) -> Vec<(TimeDomain, Millis)> {
        std::mem::take(&mut self.timers)
    }

    /// Keeps a record the operator found too late, for the late-data output.
    pub(crate) fn keep_late(&mut self, record: serde_json::Value) {
        self.late.push(record);
    }

    /// The records kept as too late, taken.
    pub fn take_late(&mut self) -> Vec<serde_json::Value> {
        std::mem::take(&mut self.late)
    }
}
