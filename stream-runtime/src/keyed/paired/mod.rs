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

use crate::guard::{RecordFailed, StageError};
use crate::keyed::{ByKey, Chainable, Cx, Due, GroupState, KeyedStage, Scope, TimeDomain, Timers};
use crate::operator::Operator;
use crate::record::Record;
use crate::source::Either;

/// The prefix of the left side's state entries and timers.
const LEFT: &str = "l/";
/// The prefix of the right side's.
const RIGHT: &str = "r/";

/// Two keyed stages, `left` and `right`, each with the stateless
/// operators after it, as one stage over `Either<left's input, right's>`
/// (see the [module](self)). Built by [`Stream::join`](crate::Stream::join).
pub struct Paired<KA, PA, KB, PB> {
    left: KA,
    left_post: PA,
    right: KB,
    right_post: PB,
}

impl<KA, PA, KB, PB> Paired<KA, PA, KB, PB> {
    pub(crate) fn new(left: KA, left_post: PA, right: KB, right_post: PB) -> Self {
        Self {
            left,
            left_post,
            right,
            right_post,
        }
    }
}

impl<KA, PA, KB, PB> Chainable for Paired<KA, PA, KB, PB> {}

/// The records of a batch of one side, in order: each one's index in the
/// whole batch, and the side's batch.
struct Run<M> {
    indices: Vec<usize>,
    batch: ByKey<M>,
}

impl<M> Run<M> {
    fn new() -> Self {
        Self {
            indices: Vec::new(),
            batch: ByKey {
                keys: Vec::new(),
                records: Vec::new(),
            },
        }
    }

    /// Adds the record at `index` of key `key`.
    fn push(&mut self, index: usize, key: &str, record: M) {
        let slot = match self.batch.keys.iter().position(|k| k == key) {
            Some(slot) => slot,
            None => {
                self.batch.keys.push(key.to_owned());
                self.batch.keys.len() - 1
            }
        };
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
    for (index, (slot, record)) in batch.records.into_iter().enumerate() {
        let key = batch.keys.get(slot).map_or("", String::as_str);
        match (record, runs.last_mut()) {
            (Either::Left(l), Some(Sides::Left(run))) => run.push(index, key, l),
            (Either::Right(r), Some(Sides::Right(run))) => run.push(index, key, r),
            (Either::Left(l), _) => {
                let mut run = Run::new();
                run.push(index, key, l);
                runs.push(Sides::Left(run));
            }
            (Either::Right(r), _) => {
                let mut run = Run::new();
                run.push(index, key, r);
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
        let key = batch.keys.get(*slot).map_or("", String::as_str);
        match record {
            Either::Left(l) => left.push(index, key, l.clone()),
            Either::Right(r) => right.push(index, key, r.clone()),
        }
    }
    (left.batch, right.batch)
}

/// Runs `f` as one side: its entries under `prefix`, its timers set in a
/// scope of their own and moved into the group's under `prefix`, and what
/// it finds late or drops kept with the call's.
fn as_side<T>(
    prefix: &'static str,
    state: &mut GroupState,
    scope: &mut Scope<'_>,
    f: impl FnOnce(&mut GroupState, &mut Scope<'_>) -> T,
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
    let result = state.scoped(prefix, |state| f(state, &mut side));
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

impl<L, R, KA, PA, KB, PB> KeyedStage<Either<L, R>> for Paired<KA, PA, KB, PB>
where
    L: Clone + Send + Sync + 'static,
    R: Clone + Send + Sync + 'static,
    KA: KeyedStage<L>,
    KA::State: Record,
    PA: Operator<KA::Out>,
    KB: KeyedStage<R>,
    KB::State: Record,
    PB: Operator<KB::Out>,
{
    type Out = Either<PA::Out, PB::Out>;
    type State = (KA::State, KB::State);

    fn encode_key(&self, record: &Either<L, R>) -> Result<String, serde_json::Error> {
        match record {
            Either::Left(l) => self.left.encode_key(l),
            Either::Right(r) => self.right.encode_key(r),
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
                Sides::Left(Run { indices, batch }) => {
                    as_side(LEFT, state, scope, |state, scope| {
                        let cx = Cx {
                            state,
                            scope,
                            out: &mut |o| self.left_post.apply(o, &mut |x| out(Either::Left(x))),
                            late: &mut |record| late(Either::Left(record)),
                        };
                        self.left
                            .apply(batch, cx)
                            .map_err(|f| in_batch(&indices, f))
                    })?
                }
                Sides::Right(Run { indices, batch }) => {
                    as_side(RIGHT, state, scope, |state, scope| {
                        let cx = Cx {
                            state,
                            scope,
                            out: &mut |o| self.right_post.apply(o, &mut |x| out(Either::Right(x))),
                            late: &mut |record| late(Either::Right(record)),
                        };
                        self.right
                            .apply(batch, cx)
                            .map_err(|f| in_batch(&indices, f))
                    })?
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
            as_side(LEFT, state, scope, |state, scope| {
                let cx = Cx {
                    state,
                    scope,
                    out: &mut |o| self.left_post.apply(o, &mut |x| out(Either::Left(x))),
                    late: &mut |record| late(Either::Left(record)),
                };
                self.left.fire(left, cx)
            })?;
        }
        if !right.is_empty() {
            as_side(RIGHT, state, scope, |state, scope| {
                let cx = Cx {
                    state,
                    scope,
                    out: &mut |o| self.right_post.apply(o, &mut |x| out(Either::Right(x))),
                    late: &mut |record| late(Either::Right(record)),
                };
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
