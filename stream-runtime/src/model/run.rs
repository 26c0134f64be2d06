//! The reference model: a pipeline's own stages run in this process, one
//! record at a time, under the documented rules, with no server.
//!
//! - **Reading.** The splits are read in turn, one record each; a bounded
//!   split with no more records has ended, an endless one with none right
//!   now is idle until it has one again.
//! - **Watermarks.** After each record: a split's watermark is the largest
//!   time `event_time` stamped on it, minus the allowed delay, minus 1; the
//!   pipeline's is the least over the splits that are neither ended nor
//!   idle (the largest over the idle ones when all are, the end of time
//!   when every split ended). It never goes back. The model has no idle
//!   timeout: a split whose records are all filtered out before
//!   `event_time` holds the watermark back until it ends.
//! - **Keyed stages.** Each record is one call of its key group, at the
//!   current watermark; what a stage gives goes to the sink, or to the next
//!   stage's group, one record a call, with the same watermark. When the
//!   watermark moves, every group whose event timer it reached fires,
//!   stage after stage; what they give reaches the next stage at that
//!   stage's own watermark, before the next stage fires.
//! - **Failures.** A record whose function fails, or a timer, is a dead
//!   letter with where it came from, as on a server (a function is
//!   deterministic, so trying it again gives the same).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use crate::group_call::{by_group, GroupCall};
use crate::keyed::{completed, GroupState, TimeDomain, Timers};
use crate::lookup::answer_here;
use crate::protocol::{DeadLetter, FailedStage};
use crate::sink::SinkCall;
use crate::source::Source;
use crate::stages::{Dataflow, Downstream, Level, Route};
use crate::time::{watermark, Millis};

use super::drive::{Answerer, Drive, DriverError, Report, Step};

/// One split of the source, as the model reads it.
#[derive(Debug, Clone, Default)]
struct Split {
    /// The next position, once its start was asked.
    position: Option<u64>,
    /// The largest time stamped on its records.
    max: Option<Millis>,
    /// A bounded split read to its end.
    ended: bool,
    /// An endless split with no record right now.
    idle: bool,
}

/// A key group's state entries and timers.
#[derive(Debug, Default)]
struct Group {
    store: BTreeMap<String, Vec<u8>>,
    timers: Timers,
}

/// What started a group's call: records (which pass the call's watermark
/// on), or its timers (whose results reach the next stage at its own).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Woken {
    Records,
    Timers,
}

/// The model of one pipeline.
pub(crate) struct Model<D: Dataflow> {
    flow: Arc<D>,
    splits: Vec<Split>,
    /// The split read next.
    next: usize,
    /// Each keyed stage's groups.
    stages: Vec<BTreeMap<u32, Group>>,
    watermark: Millis,
    now: Millis,
    /// Output not written to the sink yet.
    out: Vec<D::Out>,
    /// A branch's records not written to its sink yet.
    side: Vec<D::Side>,
    /// Each sink partition's committed offset.
    committed: BTreeMap<u32, u64>,
    /// The sink partitions whose last write failed.
    failed: BTreeSet<u32>,
    report: Report,
    /// What answers an enrichment stage's lookups.
    answer: Answerer,
}

impl<D: Dataflow> Model<D> {
    pub(crate) fn new(flow: Arc<D>) -> Self {
        let splits = vec![Split::default(); flow.splits() as usize];
        let stages = (0..flow.levels()).map(|_| BTreeMap::new()).collect();
        Self {
            flow,
            splits,
            next: 0,
            stages,
            watermark: Millis::MIN,
            now: 0,
            out: Vec::new(),
            side: Vec::new(),
            committed: BTreeMap::new(),
            failed: BTreeSet::new(),
            report: Report::default(),
            answer: Arc::new(|call| {
                Err(format!("no answer for {}: the test driver was given none (see `TestDriver::answer_lookups`)", call.target))
            }),
        }
    }

    /// Reads and processes the next record of the next split that has one;
    /// `false` when none has.
    async fn step(&mut self) -> Result<bool, DriverError> {
        let flow = Arc::clone(&self.flow);
        let source = flow.source();
        let count = self.splits.len();
        for offset in 0..count {
            let split = (self.next + offset) % count;
            if self.splits[split].ended {
                continue;
            }
            let index = split as u32;
            let position = match self.splits[split].position {
                Some(position) => position,
                None => (source.start(index).await).map_err(|error| DriverError::Read {
                    split: index,
                    position: 0,
                    error,
                })?,
            };
            let read = source.read(index, position, 1).await;
            let mut records = read.map_err(|error| DriverError::Read {
                split: index,
                position,
                error,
            })?;
            let state = &mut self.splits[split];
            state.position = Some(position);
            let Some(record) = records.pop() else {
                match source.split_is_bounded(index) {
                    true => state.ended = true,
                    false => state.idle = true,
                }
                continue;
            };
            // A Kafka record says its offset: the positions before it held
            // no record.
            let position = source.position_of(&record).unwrap_or(position);
            state.position = Some(position + 1);
            state.idle = false;
            self.next = (split + 1) % count;
            self.report.records_in += 1;
            self.record(index, position, record);
            self.settle();
            self.flush().await;
            return Ok(true);
        }
        self.settle();
        self.flush().await;
        Ok(false)
    }

    /// One source record: the operators before `key_by`, then its key
    /// group at the current watermark; then its stamp moves its split.
    fn record(&mut self, split: u32, position: u64, record: D::Input) {
        let flow = Arc::clone(&self.flow);
        let Route {
            keyed,
            output,
            side,
            stamped,
        } = match flow.route(record) {
            Ok(routed) => routed,
            Err(error) => {
                let stage = FailedStage::BeforeKey;
                self.dead_letter(split, position, stage, error.to_string(), None);
                return;
            }
        };
        self.out.extend(output);
        self.side.extend(side);
        let watermark = self.given();
        for (group, _, mid) in keyed {
            let origin = Origin::Source { split, position };
            self.call(flow.first().as_ref(), 0, group, mid, watermark, origin);
        }
        let state = &mut self.splits[split as usize];
        state.max = state.max.max(stamped);
    }

    /// The watermark a call is given: none before there is one, and none
    /// in a pipeline without event time.
    fn given(&self) -> Option<Millis> {
        let timed = self.flow.config().watermarks.is_some();
        (timed && self.watermark > Millis::MIN).then_some(self.watermark)
    }

    /// One call of group `group` of keyed stage `depth` (`level`) with one
    /// record, as the handler makes it: due timers fire first, then the
    /// record; what the stage gives goes on.
    fn call<L: Level<Final = D::Out>>(
        &mut self,
        level: &L,
        depth: usize,
        group: u32,
        record: L::Mid,
        watermark: Option<Millis>,
        origin: Origin,
    ) {
        let json = serde_json::to_value(&record).ok();
        match self.run(level, depth, group, vec![record], watermark, Woken::Records) {
            Ok(()) => {}
            Err(error) => {
                let (split, position, stage) = origin.of(depth);
                self.dead_letter(split, position, stage, error, json);
            }
        }
    }

    /// Runs a group's call with `records` (none: its timers alone), stores
    /// what it changed and passes its output on. A record that fails
    /// changes nothing and is answered.
    fn run<L: Level<Final = D::Out>>(
        &mut self,
        level: &L,
        depth: usize,
        group: u32,
        records: Vec<L::Mid>,
        watermark: Option<Millis>,
        woken: Woken,
    ) -> Result<(), String> {
        let now = match (level.time_domain(), level.looks_up()) {
            (Some(TimeDomain::Processing), _) | (_, true) => self.now,
            _ => 0,
        };
        let answer = Arc::clone(&self.answer);
        let (mut call, mut names) =
            GroupCall::new(level, records, now).map_err(|failed| failed.error)?;
        let state = self.stages[depth].entry(group).or_default();
        // A call that fails leaves the group's timers as they were: only a
        // call that went through stores the ones it took.
        names.extend(call.due(state.timers.clone(), watermark));
        names.sort_unstable();
        names.dedup();
        let loaded = names.into_iter().map(|name| {
            let bytes = state.store.get(&name).cloned();
            (name, bytes)
        });
        let mut entries = GroupState::loaded(loaded);
        let planned = call
            .lookups(level, &entries)
            .map_err(|failed| failed.error)?;
        let looked = planned
            .into_iter()
            .map(|plan| (plan.records, answer_here(&plan.call, &*answer)))
            .collect();
        let (output, timers) = call
            .run(level, &mut entries, looked)
            .map_err(|failed| failed.error)?;
        for (name, bytes) in entries.settle().0 {
            match bytes {
                Some(bytes) => state.store.insert(name, bytes),
                None => state.store.remove(&name),
            };
        }
        state.timers = timers;
        self.report.late.extend(output.late);
        for (record, error) in output.dropped {
            let stage = FailedStage::Lookup {
                stage: depth as u32 + 1,
                group,
            };
            self.dead_letter(0, 0, stage, error, record);
        }
        for failure in output.failed {
            let stage = FailedStage::Timers {
                stage: depth as u32 + 1,
                group,
            };
            self.dead_letter(0, 0, stage, failure.message(), Some(failure.record()));
        }
        match (level.down().next(), level.down().to_sink(output.out)) {
            (_, Ok(out)) => self.out.extend(out),
            (Some(next), Err(out)) => {
                let forward = match woken {
                    Woken::Records => watermark,
                    Woken::Timers => None,
                };
                let by = by_group(next.as_ref(), out);
                for (record, error) in by.failed {
                    let stage = FailedStage::Chained {
                        stage: depth as u32 + 2,
                        from_group: group,
                    };
                    let record = serde_json::to_value(&record).ok();
                    self.dead_letter(0, 0, stage, error.to_string(), record);
                }
                for (to, records) in by.groups {
                    for record in records {
                        let origin = Origin::Stage { from_group: group };
                        self.call(next.as_ref(), depth + 1, to, record, forward, origin);
                    }
                }
            }
            (None, Err(_)) => {} // not reached: the output goes to the sink
        }
        Ok(())
    }

    /// Moves the watermark to where the splits put it, and fires what it
    /// reached.
    fn settle(&mut self) {
        if self.flow.config().watermarks.is_none() {
            return;
        }
        let delay = (self.flow.config().watermarks).map_or(0, |w| w.delay_millis());
        let untimed = self.flow.config().untimed_splits;
        let timed = (self.splits.iter().enumerate())
            .filter(|(index, _)| watermark::holds(untimed, *index as u32))
            .map(|(_, split)| split);
        let splits = timed.map(|split| watermark::Split {
            own: watermark::own_watermark(split.max, delay),
            idle: split.idle,
            ended: split.ended,
        });
        self.advance(watermark::combined(splits));
    }

    /// Moves the watermark forward to `to` (never back) and fires every
    /// group's event timers it reached, stage after stage.
    fn advance(&mut self, to: Millis) {
        if to <= self.watermark {
            return;
        }
        self.watermark = to;
        let flow = Arc::clone(&self.flow);
        if flow.is_keyed() {
            self.fire(flow.first().as_ref(), 0);
        }
    }

    /// Fires the due timers of every group of stage `depth`, then of the
    /// stages after it.
    fn fire<L: Level<Final = D::Out>>(&mut self, level: &L, depth: usize) {
        let watermark = self.watermark;
        let clock = completed(self.now);
        let due: Vec<u32> = (self.stages[depth].iter())
            .filter(|(_, group)| {
                group.timers.next_event().is_some_and(|at| at <= watermark)
                    || group.timers.next_processing().is_some_and(|at| at <= clock)
            })
            .map(|(group, _)| *group)
            .collect();
        let given = self.given();
        for group in due {
            // No record: a timer's failure is a dead letter of its own.
            let _ = self.run(level, depth, group, Vec::new(), given, Woken::Timers);
        }
        if let Some(next) = level.down().next() {
            self.fire(next.as_ref(), depth + 1);
        }
    }

    /// Writes what is waiting to the sink, and a branch's records to its
    /// own, partition by partition; a write that fails is a dead letter.
    async fn flush(&mut self) {
        let flow = Arc::clone(&self.flow);
        let out = std::mem::take(&mut self.out);
        for (partition, records) in flow.by_sink_partition(0, out) {
            let write = |committed, call| flow.write(partition, committed, call);
            self.write(partition, &records, FailedStage::Sink, write)
                .await;
        }
        let side = std::mem::take(&mut self.side);
        let after = flow.sink_partitions();
        for (partition, records) in flow.by_side_partition(0, side) {
            let write = |committed, call| flow.write_side(partition, committed, call);
            self.write(after + partition, &records, FailedStage::BranchSink, write)
                .await;
        }
    }

    /// Writes `records` to partition `partition` of the sink or a branch's
    /// (`stage`, for its dead letter) with `write` (a call of the
    /// partition, from the committed offset). After a write that failed,
    /// the records are written from where the sink answers that its
    /// records end, as the runtime's sink service does
    /// ([`after_failed_write`](crate::Sink::after_failed_write)). (A record
    /// the sink rejects fails the whole write here: the model has no
    /// second write without it.)
    async fn write<'r, T, W, F>(
        &mut self,
        partition: u32,
        records: &'r [T],
        stage: FailedStage,
        write: W,
    ) where
        W: Fn(u64, SinkCall<'r, T>) -> F,
        F: Future<Output = std::io::Result<u64>>,
    {
        let count = records.len();
        let committed = self.committed.get(&partition).copied().unwrap_or(0);
        let from = match self.failed.contains(&partition) {
            true => write(committed, SinkCall::AfterFailedWrite).await,
            false => Ok(committed),
        };
        let written = match from {
            Ok(from) => {
                self.failed.remove(&partition);
                self.committed.insert(partition, from);
                write(from, SinkCall::Write(records)).await
            }
            Err(error) => Err(error),
        };
        match written {
            Ok(offset) => {
                self.committed.insert(partition, offset);
                self.report.records_out += count as u64;
            }
            Err(error) => {
                self.failed.insert(partition);
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                self.report.dead_letters.push(DeadLetter {
                    split: 0,
                    position: 0,
                    count,
                    stage,
                    error: error.to_string(),
                    record: None,
                });
            }
        }
    }

    fn dead_letter(
        &mut self,
        split: u32,
        position: u64,
        stage: FailedStage,
        error: String,
        record: Option<serde_json::Value>,
    ) {
        self.report.dead_letters.push(DeadLetter {
            split,
            position,
            count: 1,
            stage,
            error,
            record,
        });
    }
}

/// Where a record sent to a key group came from, for its dead letter.
#[derive(Clone, Copy)]
enum Origin {
    Source { split: u32, position: u64 },
    Stage { from_group: u32 },
}

impl Origin {
    /// The dead letter's split, position and stage, for a record that
    /// failed at keyed stage `depth`.
    fn of(self, depth: usize) -> (u32, u64, FailedStage) {
        match self {
            Origin::Source { split, position } => (split, position, FailedStage::Keyed),
            Origin::Stage { from_group } => {
                let stage = depth as u32 + 1;
                (0, 0, FailedStage::Chained { stage, from_group })
            }
        }
    }
}

impl<D: Dataflow> Drive for Model<D> {
    fn answer_lookups(&mut self, answer: Answerer) {
        self.answer = answer;
    }

    fn read(&mut self, records: usize) -> Step<'_, usize> {
        Box::pin(async move {
            let mut read = 0;
            while read < records && self.step().await? {
                read += 1;
            }
            Ok(read)
        })
    }

    fn ended(&self) -> bool {
        self.splits.iter().all(|s| s.ended)
    }

    fn advance_watermark(&mut self, to: Millis) -> Step<'_, ()> {
        Box::pin(async move {
            self.advance(to);
            self.flush().await;
            Ok(())
        })
    }

    fn advance_clock(&mut self, now: Millis) -> Step<'_, ()> {
        Box::pin(async move {
            self.now = self.now.max(now);
            let flow = Arc::clone(&self.flow);
            if flow.is_keyed() {
                self.fire(flow.first().as_ref(), 0);
            }
            self.flush().await;
            Ok(())
        })
    }

    fn report(&self) -> Report {
        let mut report = self.report.clone();
        report.watermark = self.given();
        report.pending_timers = (self.stages.iter())
            .flat_map(|groups| groups.values())
            .map(|group| group.timers.event_len() as u64)
            .sum();
        report
    }
}

/// The model of `flow`.
pub(crate) fn model<D: Dataflow>(flow: Arc<D>) -> Box<dyn Drive> {
    Box::new(Model::new(flow))
}
