//! One call of a key group, as plain code (the handlers in
//! `services/keyed.rs` and the test driver's model both run it): which state entries the batch
//! needs, which timers are due, and what firing and applying the batch
//! produce. The handlers (`services/keyed.rs`) load and store around it:
//! the batch's entries and the group's timers together, then the entries
//! of due timers that the batch did not already need.

mod batch;
mod output;
#[cfg(test)]
mod tests;

pub(crate) use batch::by_group;
pub(crate) use output::{Output, Woken};

use crate::group::{completed, ByKey, Due, GroupState, Scope, Timers};
use crate::guard::RecordFailed;
use crate::lookup::{Answered, Planned};
use crate::stages::{GroupOutput, Level};
use crate::time::Millis;
use batch::by_key;

/// A call being planned: the batch with its keys, then the timers.
pub(crate) struct GroupCall<M> {
    batch: Option<ByKey<M>>,
    now: Millis,
    timers: Timers,
    due: Vec<Due>,
}

impl<M> GroupCall<M> {
    /// A call with `records` (none for a timer's call) at wall-clock time
    /// `now`, and the state entries its batch needs.
    pub(crate) fn new<L: Level<Mid = M>>(
        flow: &L,
        records: Vec<M>,
        now: Millis,
    ) -> Result<(Self, Vec<String>), RecordFailed> {
        let batch = if records.is_empty() {
            None
        } else {
            Some(by_key(flow, records)?)
        };
        let mut call = Self {
            batch,
            now,
            timers: Timers::default(),
            due: Vec::new(),
        };
        let mut names = Vec::new();
        if let Some(batch) = &call.batch {
            let scope = Scope {
                watermark: Millis::MIN,
                now,
                timers: &mut call.timers,
                late: Vec::new(),
                looked: Vec::new(),
                dropped: Vec::new(),
            };
            names = flow.keyed_entries(batch, &scope);
        }
        names.sort_unstable();
        names.dedup();
        Ok((call, names))
    }

    /// Takes in the group's timers: its watermark moves up to `watermark`,
    /// and the timers due at it are taken, with the processing-time timers
    /// of every millisecond before `now` (records of the current one may
    /// still come). Answers the entries those timers visit.
    pub(crate) fn due(&mut self, mut timers: Timers, watermark: Option<Millis>) -> Vec<String> {
        if let Some(watermark) = watermark {
            timers.watermark = Some(timers.watermark().max(watermark));
        }
        self.due = timers.take_due(timers.watermark(), completed(self.now));
        self.timers = timers;
        let mut names: Vec<String> = self.due.iter().map(|d| d.tag.clone()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The calls an enrichment stage makes for the batch, against the
    /// loaded `state` (its cache): none for any other stage. A record
    /// whose lookup function fails fails the call, as applying it would.
    pub(crate) fn lookups<L: Level<Mid = M>>(
        &self,
        flow: &L,
        state: &GroupState,
    ) -> Result<Vec<Planned>, RecordFailed> {
        match &self.batch {
            Some(batch) => flow.lookups(batch, state, self.now),
            None => Ok(Vec::new()),
        }
    }

    /// Fires what is due, then applies the batch, against the loaded
    /// `state` and what its lookups answered (`looked`, in the order they
    /// answered). Firing comes first: the watermark the batch carries was
    /// reached before its records were read. A record that fails fails the
    /// call (the caller retries without it); a timer that fails is in the
    /// output's `failed`, and the rest of the call goes on.
    pub(crate) fn run<L: Level<Mid = M>>(
        mut self,
        flow: &L,
        state: &mut GroupState,
        looked: Vec<(Vec<usize>, Answered)>,
    ) -> Result<(GroupOutput<L::Out>, Timers), RecordFailed> {
        let mut scope = Scope {
            watermark: self.timers.watermark(),
            now: self.now,
            timers: &mut self.timers,
            late: Vec::new(),
            looked,
            dropped: Vec::new(),
        };
        let fired = flow.fire(state, self.due, &mut scope);
        let mut out = fired.out;
        // What firing found late comes first, as firing does.
        let mut late = std::mem::take(&mut scope.late);
        let mut dropped = Vec::new();
        if let Some(batch) = self.batch {
            let applied = flow.apply_keyed(state, batch, &mut scope)?;
            out.extend(applied.out);
            late.extend(applied.late);
            dropped = applied.dropped;
        }
        let failed = fired.failed;
        let output = GroupOutput {
            out,
            late,
            failed,
            dropped,
        };
        Ok((output, self.timers))
    }
}
