//! One call of a key group, as plain code: which timers are due, which
//! state entries to load, and what firing and applying the batch produce.
//! The handlers (`services/keyed.rs`) load and store around it.

use super::{by_key, ByKey, Due, GroupState, Scope, Timers};
use crate::guard::RecordFailed;
use crate::stages::{Dataflow, KeyedOutput};
use crate::time::Millis;

/// The state entry of a group's timers and watermark.
pub(crate) const TIMERS: &str = "time";

/// A planned call: what is due, and the batch with its keys.
pub(crate) struct GroupCall<M> {
    pub timers: Timers,
    due: Vec<Due>,
    batch: Option<ByKey<M>>,
    now: Millis,
}

/// Why a call failed: a record (the token retries without it), or firing.
pub(crate) enum GroupFailed {
    Record(RecordFailed),
    Fire(String),
}

impl<M> GroupCall<M> {
    /// Plans a call: the group's watermark moves up to `watermark`, the
    /// timers due at it (and at `now`) are taken, and the entries to load
    /// are those timers' and the batch's.
    pub(crate) fn plan<D: Dataflow<Mid = M>>(
        flow: &D,
        mut timers: Timers,
        records: Vec<M>,
        watermark: Option<Millis>,
        now: Millis,
    ) -> Result<(Self, Vec<String>), RecordFailed> {
        if let Some(watermark) = watermark {
            timers.watermark = Some(timers.watermark().max(watermark));
        }
        let due = timers.take_due(timers.watermark(), now);
        let batch = if records.is_empty() {
            None
        } else {
            Some(by_key(flow, records)?)
        };
        let mut names: Vec<String> = due.iter().map(|d| d.tag.clone()).collect();
        if let Some(batch) = &batch {
            let scope = Scope {
                watermark: timers.watermark(),
                now,
                timers: &mut timers,
            };
            names.extend(flow.keyed_entries(batch, &scope));
        }
        names.sort_unstable();
        names.dedup();
        let call = Self {
            timers,
            due,
            batch,
            now,
        };
        Ok((call, names))
    }

    /// Fires what is due, then applies the batch, against the loaded
    /// `state`. Firing comes first: the watermark the batch carries was
    /// reached before its records were read.
    pub(crate) fn run<D: Dataflow<Mid = M>>(
        mut self,
        flow: &D,
        state: &mut GroupState,
    ) -> Result<(KeyedOutput<D::Out>, Timers), GroupFailed> {
        let mut scope = Scope {
            watermark: self.timers.watermark(),
            now: self.now,
            timers: &mut self.timers,
        };
        let mut out = flow
            .fire(state, self.due, &mut scope)
            .map_err(GroupFailed::Fire)?;
        let mut late = Vec::new();
        if let Some(batch) = self.batch {
            let applied = flow
                .apply_keyed(state, batch, &mut scope)
                .map_err(GroupFailed::Record)?;
            out.extend(applied.out);
            late = applied.late;
        }
        Ok((KeyedOutput { out, late }, self.timers))
    }
}
