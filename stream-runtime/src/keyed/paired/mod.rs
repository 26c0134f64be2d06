//! The two sides of a join, each with its own keyed stage, run as one
//! keyed stage over [`Either`]: a left record goes to the left side's
//! stage, a right one to the right's, each with its own key, state and
//! timers, and what they emit leaves as `Either::Left` and
//! `Either::Right`, for the join (a `key_by` and a keyed stage) after it.
//!
//! Both sides share the stage's key groups: a left key and a right key
//! that encode alike meet in one group, where each side's entries and
//! timers are kept under its own prefix (`l/` and `r/`), so neither side
//! ever reads the other's.

use std::collections::HashMap;

use serde::Serialize;

use crate::guard::{RecordFailed, StageError};
use crate::keyed::{ByKey, Chainable, Cx, Due, GroupState, KeyedStage, Scope, TimeDomain, Timers};
use crate::record::Record;
use crate::source::Either;

/// The prefix of the left side's state entries and timers.
const LEFT: &str = "l/";
/// The prefix of the right side's.
const RIGHT: &str = "r/";

/// Two keyed stages, `left` and `right`, as one stage over
/// `Either<left's input, right's>`, each side's entries and timers under
/// its own prefix. The stateless operators after each run after the pair, as
/// [`EachSide`](crate::operator::EachSide), where a result they fail on
/// is a dead letter of its own. Built by [`Stream::join`](crate::Stream::join).
pub struct Paired<KA, KB> {
    left: KA,
    right: KB,
}

impl<KA, KB> Paired<KA, KB> {
    pub(crate) fn new(left: KA, right: KB) -> Self {
        Self { left, right }
    }
}

impl<KA, KB> Chainable for Paired<KA, KB> {}

/// The records of a batch of one side, in order: each one's index in the
/// whole batch, and the side's batch.
struct Run<M> {
    indices: Vec<usize>,
    batch: ByKey<M>,
    /// The run's slot of each key of the whole batch.
    slots: HashMap<usize, usize>,
}

impl<M> Run<M> {
    fn new() -> Self {
        Self {
            indices: Vec::new(),
            batch: ByKey {
                keys: Vec::new(),
                records: Vec::new(),
            },
            slots: HashMap::new(),
        }
    }

    /// Adds the record at `index` of the whole batch's key slot `slot`.
    fn push(&mut self, index: usize, keys: &[String], slot: usize, record: M) {
        let keys_here = &mut self.batch.keys;
        let slot = *self.slots.entry(slot).or_insert_with(|| {
            keys_here.push(keys.get(slot).cloned().unwrap_or_default());
            keys_here.len() - 1
        });
        self.indices.push(index);
        self.batch.records.push((slot, record));
    }
}

/// A failure of a run's record, as an index in the whole batch.
fn in_batch(indices: &[usize], failed: RecordFailed) -> RecordFailed {
    RecordFailed {
        index: indices.get(failed.index).copied().unwrap_or(0),
        error: failed.error,
    }
}

/// A batch of both sides, split into runs of one side each, in order: the
/// records of each side reach its stage in the order they came, and a
/// left record that came before a right one is applied before it.
enum Sides<L, R> {
    Left(Run<L>),
    Right(Run<R>),
}

fn runs<L, R>(batch: ByKey<Either<L, R>>) -> Vec<Sides<L, R>> {
    let mut runs: Vec<Sides<L, R>> = Vec::new();
    let keys = &batch.keys;
    for (index, (slot, record)) in batch.records.into_iter().enumerate() {
        match (record, runs.last_mut()) {
            (Either::Left(l), Some(Sides::Left(run))) => run.push(index, keys, slot, l),
            (Either::Right(r), Some(Sides::Right(run))) => run.push(index, keys, slot, r),
            (Either::Left(l), _) => {
                let mut run = Run::new();
                run.push(index, keys, slot, l);
                runs.push(Sides::Left(run));
            }
            (Either::Right(r), _) => {
                let mut run = Run::new();
                run.push(index, keys, slot, r);
                runs.push(Sides::Right(run));
            }
        }
    }
    runs
}

/// One side's records of a batch, by reference made owned: for the
/// entries its stage names.
fn side_batch<L: Clone, R: Clone>(batch: &ByKey<Either<L, R>>) -> (ByKey<L>, ByKey<R>) {
    let mut left = Run::new();
    let mut right = Run::new();
    for (index, (slot, record)) in batch.records.iter().enumerate() {
        match record {
            Either::Left(l) => left.push(index, &batch.keys, *slot, l.clone()),
            Either::Right(r) => right.push(index, &batch.keys, *slot, r.clone()),
        }
    }
    (left.batch, right.batch)
}

/// Runs `f` as one side, on a `Cx` of its own: its entries under
/// `prefix`, its timers set in a scope of their own and moved into the
/// group's under `prefix`, what it finds late or drops kept with the
/// call's, and its output and late records handed to `out` and `late`.
fn as_side<In, O, T>(
    prefix: &'static str,
    state: &mut GroupState,
    scope: &mut Scope<'_>,
    out: &mut dyn FnMut(O),
    late: &mut dyn FnMut(In),
    f: impl for<'c, 's> FnOnce(Cx<'c, 's, In, O>) -> T,
) -> T {
    let mut timers = Timers::default();
    timers.watermark = scope.timers.watermark;
    let mut side = Scope {
        watermark: scope.watermark,
        now: scope.now,
        timers: &mut timers,
        late: Vec::new(),
        looked: Vec::new(),
        dropped: Vec::new(),
    };
    let result = state.scoped(prefix, |state| {
        f(Cx {
            state,
            scope: &mut side,
            out,
            late,
        })
    });
    scope.late.append(&mut side.late);
    scope.dropped.append(&mut side.dropped);
    timers.move_into(scope.timers, prefix);
    result
}

/// The clock a pair follows: the processing clock if either side reads
/// it, else event time if either side sets event timers.
fn either_domain(a: Option<TimeDomain>, b: Option<TimeDomain>) -> Option<TimeDomain> {
    match (a, b) {
        (Some(TimeDomain::Processing), _) | (_, Some(TimeDomain::Processing)) => {
            Some(TimeDomain::Processing)
        }
        (Some(TimeDomain::Event), _) | (_, Some(TimeDomain::Event)) => Some(TimeDomain::Event),
        (None, None) => None,
    }
}

/// The key of a side's record: its stage's, or, for a side with no keyed
/// stage, the record itself, so that its records spread over the key
/// groups rather than all meeting in the one of the empty key.
fn side_key<In: Serialize, K: KeyedStage<In>>(
    stage: &K,
    record: &In,
) -> Result<String, serde_json::Error> {
    match stage.is_keyed() {
        true => stage.encode_key(record),
        false => serde_json::to_string(record),
    }
}

impl<L, R, KA, KB> KeyedStage<Either<L, R>> for Paired<KA, KB>
where
    L: Clone + Serialize + Send + Sync + 'static,
    R: Clone + Serialize + Send + Sync + 'static,
    KA: KeyedStage<L>,
    KA::State: Record,
    KB: KeyedStage<R>,
    KB::State: Record,
{
    type Out = Either<KA::Out, KB::Out>;
    type State = (KA::State, KB::State);

    fn encode_key(&self, record: &Either<L, R>) -> Result<String, serde_json::Error> {
        match record {
            Either::Left(l) => side_key(&self.left, l),
            Either::Right(r) => side_key(&self.right, r),
        }
    }

    fn domain(&self) -> Option<TimeDomain> {
        either_domain(self.left.domain(), self.right.domain())
    }

    fn entries(&self, batch: &ByKey<Either<L, R>>, scope: &Scope<'_>) -> Vec<String> {
        let (left, right) = side_batch(batch);
        let mut names = Vec::new();
        if !left.records.is_empty() {
            let entries = self.left.entries(&left, scope);
            names.extend(entries.into_iter().map(|name| format!("{LEFT}{name}")));
        }
        if !right.records.is_empty() {
            let entries = self.right.entries(&right, scope);
            names.extend(entries.into_iter().map(|name| format!("{RIGHT}{name}")));
        }
        names
    }

    fn apply(
        &self,
        batch: ByKey<Either<L, R>>,
        cx: Cx<'_, '_, Either<L, R>, Self::Out>,
    ) -> Result<(), RecordFailed>
    where
        Self::State: Record,
    {
        let Cx {
            state,
            scope,
            out,
            late,
        } = cx;
        for run in runs(batch) {
            match run {
                Sides::Left(Run { indices, batch, .. }) => {
                    let out = &mut |o| out(Either::Left(o));
                    let late = &mut |r| late(Either::Left(r));
                    as_side(LEFT, state, scope, out, late, |cx| {
                        self.left.apply(batch, cx)
                    })
                    .map_err(|f| in_batch(&indices, f))?
                }
                Sides::Right(Run { indices, batch, .. }) => {
                    let out = &mut |o| out(Either::Right(o));
                    let late = &mut |r| late(Either::Right(r));
                    as_side(RIGHT, state, scope, out, late, |cx| {
                        self.right.apply(batch, cx)
                    })
                    .map_err(|f| in_batch(&indices, f))?
                }
            }
        }
        Ok(())
    }

    /// Fires each side's due timers in its own stage (the tags of one call
    /// are one entry's, so of one side).
    fn fire(&self, due: Vec<Due>, cx: Cx<'_, '_, Either<L, R>, Self::Out>) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        let Cx {
            state,
            scope,
            out,
            late,
        } = cx;
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for due in due {
            let (side, tag) = match (due.tag.strip_prefix(LEFT), due.tag.strip_prefix(RIGHT)) {
                (Some(tag), _) => (&mut left, tag),
                (_, Some(tag)) => (&mut right, tag),
                (None, None) => continue,
            };
            side.push(Due {
                tag: tag.to_owned(),
                ..due
            });
        }
        if !left.is_empty() {
            let out = &mut |o| out(Either::Left(o));
            let late = &mut |r| late(Either::Left(r));
            as_side(LEFT, state, scope, out, late, |cx| self.left.fire(left, cx))?;
        }
        if !right.is_empty() {
            let out = &mut |o| out(Either::Right(o));
            let late = &mut |r| late(Either::Right(r));
            as_side(RIGHT, state, scope, out, late, |cx| {
                self.right.fire(right, cx)
            })?;
        }
        Ok(())
    }

    fn forget(
        &self,
        entry: &str,
        state: &mut GroupState,
        scope: &Scope<'_>,
    ) -> Result<(), StageError>
    where
        Self::State: Record,
    {
        if let Some(name) = entry.strip_prefix(LEFT) {
            return state.scoped(LEFT, |state| self.left.forget(name, state, scope));
        }
        if let Some(name) = entry.strip_prefix(RIGHT) {
            return state.scoped(RIGHT, |state| self.right.forget(name, state, scope));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
