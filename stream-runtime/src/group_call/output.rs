//! What a key group's call does with what it produced, as plain code over
//! the [`Calls`] seam: which watermark its output carries on, who sends its
//! wake-ups to the clock, what goes to the dead-letter output, how its
//! output reaches the next stage's groups (through the [`Exchange`]) and
//! how fired output is written to the sink. The `{name}Keyed` handlers
//! load and store around it; unit tests hand it a fake.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::PipelineConfig;
use crate::protocol::handlers::{control, ControlKey};
use crate::protocol::{Calls, DeadLetter, EncodeError, FailedStage, Passed, SinkBatch};
use crate::round::{write_once, Exchange, Typed, Unwritten};
use crate::stages::{by_sink_partition, Downstream, FireFailed, Level};
use crate::time::watermark::Need;
use crate::time::Millis;

use super::by_group;

/// What started a call of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A token's batch to the first stage: the token writes the output.
    Batch,
    /// A token's batch in a chain: the group answers what it makes for the
    /// next keyed stage ([`Answer::passed`]) for the token to carry there,
    /// so that each group there is called once per round, not once per
    /// group of this stage; a last stage writes the sink itself, so that a
    /// key's results reach it in the order its group made them.
    Relay,
    /// The batch a group of the keyed stage before this one passed on.
    Upstream,
    /// The clock: the watermark reached the group's wish.
    Clock,
    /// The clock, at a stage that fires each window once on event time
    /// (`keyed::Fire`): the group answers what it fired for the next keyed
    /// stage ([`Advanced::passed`]), and the clock carries it there once
    /// every group it woke has answered, so each group there is called
    /// once per wake-up with what every group fired for it, not once per
    /// group of this stage.
    ///
    /// [`Advanced::passed`]: crate::protocol::Advanced::passed
    Fire,
    /// The group's own delayed call, set for this time.
    Delay(Millis),
}

impl Woken {
    /// The watermark the call's output carries to the next stage. What a
    /// batch gave was made at the batch's watermark, which every group of
    /// this stage has fired up to (the clock's cascade is over before a
    /// token carries it); what timers fired is judged by the next stage's
    /// own (`None`).
    pub(crate) fn forwards(self, watermark: Option<Millis>) -> Option<Millis> {
        match self {
            Woken::Batch | Woken::Relay | Woken::Upstream => watermark,
            Woken::Clock | Woken::Fire | Woken::Delay(_) => None,
        }
    }

    /// Whether the call answers what it made for the next keyed stage,
    /// for its caller to carry there, rather than calling that stage's
    /// groups itself: a token's batch that relays, and the clock's
    /// wake-up of a stage that fires each window once on event time
    /// (`fires_once`). Such a stage emits nothing when a batch is applied
    /// (a window that could still emit would be too late for it), and once
    /// its group fired up to the clock's watermark, no call brings it a
    /// later one until the clock's wake-up is over; so nothing the group
    /// makes can overtake what the clock carries. A stage that emits on
    /// records, or fires a window again within its allowed lateness,
    /// calls the next stage itself.
    pub(crate) fn answers_passed(self, fires_once: bool) -> bool {
        match self {
            Woken::Relay => true,
            Woken::Fire => fires_once,
            Woken::Batch | Woken::Upstream | Woken::Clock | Woken::Delay(_) => false,
        }
    }

    /// The most bytes of output the call answers for its caller to carry
    /// ([`Output::relay`]; more, and it passes them on itself): a call's,
    /// for a token's batch; for the clock's wake-up, a call's share per
    /// key group, so that what a wake-up of every group carries adds up
    /// to one call's at most.
    pub(crate) fn relay_budget(self, config: &PipelineConfig) -> usize {
        match self {
            Woken::Fire => config.max_call_bytes / config.key_groups.count().max(1) as usize,
            _ => config.max_call_bytes,
        }
    }

    /// Whether the call sends its wake-ups to the clock itself rather than
    /// answering them: a delayed call has no caller to carry them, and the
    /// last stage (`answers_needs` false) no later one that waits on them.
    pub(crate) fn sends_needs(self, answers_needs: bool) -> bool {
        matches!(self, Woken::Delay(_)) || !answers_needs
    }
}

/// Where group `group` of keyed stage `level` sends what it produced.
pub(crate) struct Output<'a, C> {
    pub calls: &'a C,
    pub config: &'a PipelineConfig,
    /// The stage: 0 for the first.
    pub level: u32,
    pub group: u32,
}

impl<C: Calls> Output<'_, C> {
    /// Keeps a record (or `count` of them) that could not go on, with why.
    pub(crate) fn dead_letter(
        &self,
        stage: FailedStage,
        error: String,
        count: u32,
        record: Option<Value>,
    ) -> Result<(), EncodeError> {
        let letter = DeadLetter {
            split: 0,
            position: 0,
            count,
            stage,
            error,
            record,
        };
        self.calls
            .send::<control::KeepDeadLetter>(ControlKey, &letter)
    }

    /// Dead-letters what the call dropped: records an enrichment stage
    /// could not enrich (`dropped`), each with why, and timers whose firing
    /// failed (`failed`), each once, with its window or key. The rest of
    /// the call goes on.
    pub(crate) fn drop_failed(
        &self,
        dropped: Vec<(Option<Value>, String)>,
        failed: Vec<FireFailed>,
    ) -> Result<(), EncodeError> {
        let (stage, group) = (self.level + 1, self.group);
        for (record, error) in dropped {
            self.dead_letter(FailedStage::Lookup { stage, group }, error, 1, record)?;
        }
        for failure in failed {
            let record = Some(failure.record());
            let stage = FailedStage::Timers { stage, group };
            self.dead_letter(stage, failure.message(), 1, record)?;
        }
        Ok(())
    }

    /// Where the call's dead letters for the next stage come from.
    fn chained(&self) -> FailedStage {
        FailedStage::Chained {
            stage: self.level + 2,
            from_group: self.group,
        }
    }

    /// `out` by the next keyed stage's group it goes to (folded by that
    /// stage's combiner); a record whose key fails goes to the dead-letter
    /// output.
    pub(crate) fn route<N: Level>(
        &self,
        next: &N,
        out: Vec<N::Mid>,
    ) -> Result<BTreeMap<u32, Vec<N::Mid>>, EncodeError> {
        let by = by_group(next, out);
        for (record, error) in by.failed {
            let record = serde_json::to_value(&record).ok();
            self.dead_letter(self.chained(), error.to_string(), 1, record)?;
        }
        Ok(by.groups)
    }

    /// The routed records as JSON, for the caller to carry to the next
    /// stage ([`Answer::passed`]); given back when they add up to more
    /// than `budget` bytes (or one does not encode), to be passed on here.
    pub(crate) fn relay<M: serde::Serialize>(
        &self,
        groups: BTreeMap<u32, Vec<M>>,
        budget: usize,
    ) -> Result<Vec<Passed>, BTreeMap<u32, Vec<M>>> {
        let mut passed = Vec::with_capacity(groups.len());
        let mut bytes = 0usize;
        for (group, records) in &groups {
            let mut raw = Vec::with_capacity(records.len());
            for record in records {
                let Ok(json) = serde_json::value::to_raw_value(record) else {
                    return Err(groups);
                };
                bytes = bytes.saturating_add(json.get().len());
                raw.push(json);
            }
            if bytes > budget {
                return Err(groups);
            }
            passed.push(Passed {
                group: *group,
                from: self.group,
                records: raw,
            });
        }
        Ok(passed)
    }

    /// Passes `groups` on to the next keyed stage's groups (called through
    /// `next_calls`) through the [`Exchange`], as a token sends its records
    /// to the first stage: in calls under `max_call_bytes`, a failing record
    /// tried up to `max_attempts`, and with `watermark`, so that the next
    /// stage judges lateness by the pipeline's watermark at this point, not
    /// by its own last wake-up. Answers the wake-ups they ask for. A record
    /// that never reaches its group goes to the dead-letter output.
    pub(crate) async fn pass_on<N: Level, C2: Calls>(
        &self,
        next_calls: &C2,
        _next: &N,
        groups: BTreeMap<u32, Vec<N::Mid>>,
        watermark: Option<Millis>,
    ) -> Result<Vec<Need>, EncodeError> {
        let stage = self.chained();
        let exchange = Exchange {
            calls: next_calls,
            budget: self.config.max_call_bytes,
            attempts: self.config.max_attempts,
            watermark,
            relay: false,
            encoding: self.config.record_encoding(),
        };
        let groups = (groups.into_iter())
            .map(|(to, records)| (to, records.into_iter().map(|r| (r, 0)).collect()))
            .collect();
        let delivered = exchange.deliver(&Typed::<N>::new(), groups).await;
        for unsent in delivered.unsent {
            let (_, count, error, record) = unsent.into_parts();
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            self.dead_letter(stage.clone(), error, count, record)?;
        }
        Ok(delivered.answer.needs)
    }

    /// Writes what a call that no token waits on produced to the sink
    /// partitions it routes to (the group's own, its number modulo the
    /// partitions, unless the sink routes records itself); what is not
    /// written goes to the dead-letter output (a rejected record alone,
    /// the rest written).
    pub(crate) async fn write_fired<T, D: Downstream<T>>(
        &self,
        down: &D,
        out: Vec<D::Final>,
    ) -> Result<(), EncodeError> {
        let stage = FailedStage::TimersSink {
            stage: self.level + 1,
            group: self.group,
        };
        let setting = self.config.record_encoding();
        for (partition, out) in by_sink_partition(down, u64::from(self.group), out) {
            let mut letters = Vec::new();
            let len = out.len();
            let out = SinkBatch {
                encoding: setting.for_records(out.first()),
                records: out,
            };
            write_once(self.calls, partition, out, |unwritten| {
                letters.push(match unwritten {
                    Unwritten::Batch(error) => (error, len, None),
                    Unwritten::Record(error, record) => (error, 1, record),
                })
            })
            .await;
            for (error, count, record) in letters {
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                self.dead_letter(stage.clone(), error, count, record)?;
            }
        }
        Ok(())
    }
}
