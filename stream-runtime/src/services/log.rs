//! `{name}Log`: one pushed split's log, the records appended to it and
//! not yet leased, each batch one state entry (see [`crate::push`] for the
//! decisions, and [`Pushed`](crate::source::Pushed) for what a user sees).

use restate_sdk::errors::{HandlerError, HandlerResult, TerminalError};
use restate_sdk::prelude::*;
use serde_json::Value;

use super::calls::RestateCalls;
use super::serve::{index_key, Serves};
use super::{PipelineService, ServiceHandlers};
use crate::protocol::handlers::{log, LogService};
use crate::protocol::{Appended, LogTake, LogTaken, PushBatch};
use crate::push::{admit, Taking};
use crate::source::{EndsBefore, PushLimits, Source};
use crate::stages::Dataflow;
use crate::time::{wall_clock, Millis};

/// The position the next batch is appended at.
const END: &str = "end";
/// The first position not yet taken: every one before it is leased.
const NEXT: &str = "next";
/// The first position of the batch that holds `next`.
const CURSOR: &str = "cursor";
/// For a log its source feeds ([`Source::pull`]): where the next pull
/// starts, the source's own position.
const MARK: &str = "mark";
/// The splits the pipeline had when the log was first appended to: a
/// producer's key picks its split by them, so they may not change.
const SPLITS: &str = "splits";
/// The oldest and the next entry of the keys' expiry queue.
const EXPIRY_HEAD: &str = "expiry_head";
const EXPIRY_TAIL: &str = "expiry_tail";
/// The most remembered keys one append forgets, so that forgetting keeps
/// up with appending at a bounded cost per call.
const FORGET_PER_APPEND: u32 = 4;

/// The entry of the batch appended at `first`.
fn batch_entry(first: u64) -> String {
    format!("log:{first}")
}

/// The entry that remembers the answer to key `key`.
fn key_entry(key: &str) -> String {
    format!("key:{key}")
}

/// The entry of the expiry queue at `index`: a key, and when it came.
fn expiry_entry(index: u64) -> String {
    format!("expiry:{index}")
}

impl<D: Dataflow> ServiceHandlers<D> for LogService {
    type Handlers = (log::Append, log::Take);
}

impl<D: Dataflow> PipelineService<LogService, D> {
    /// The split this object is the log of, and its limits.
    fn split(&self, key: &str) -> Result<(u32, PushLimits), TerminalError> {
        let split = index_key(key, "split", self.flow.splits())?;
        match self.flow.source().pushed(split) {
            Some(limits) => Ok((split, limits)),
            None => Err(not_pushed(self.flow.name(), split)),
        }
    }
}

/// The error for a split that is read from elsewhere.
pub(super) fn not_pushed(pipeline: &str, split: u32) -> TerminalError {
    let why = format!("split {split} of pipeline `{pipeline}` is not one records are pushed to");
    TerminalError::new_with_code(404, why)
}

/// Appends a batch, once per key: the key's first answer is remembered, and
/// a batch sent again with it appends nothing and gets that answer. The
/// answer comes once the batch is in the log's state, so it is durable.
impl<'a, D: Dataflow> Serves<'a, log::Append> for PipelineService<LogService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        batch: PushBatch,
    ) -> HandlerResult<Appended> {
        let (split, limits) = self.split(ctx.key())?;
        if limits.pulled {
            return Err(not_pushed(self.flow.name(), split).into());
        }
        let key = key_entry(&batch.key);
        if let Some(Json(first)) = ctx.get::<Json<Appended>>(&key).await? {
            return Ok(Appended {
                again: true,
                ..first
            });
        }
        let splits = self.flow.splits();
        match ctx.get::<u32>(SPLITS).await? {
            Some(stored) if stored != splits => {
                let why = format!(
                    "pipeline `{}` is served with {splits} splits where its pushed logs were \
                     laid out with {stored}: a batch sent again could go to another split and be \
                     appended twice. Serve it with the settings it started with, or run it under \
                     a new name",
                    self.flow.name()
                );
                return Err(TerminalError::new_with_code(409, why).into());
            }
            Some(_) => {}
            None => ctx.set(SPLITS, splits),
        }
        let now = ctx.run(|| async { Ok(wall_clock()) }).name("now").await?;
        forget_old_keys(&ctx, now, limits).await?;
        let end = ctx.get::<u64>(END).await?.unwrap_or(0);
        let next = ctx.get::<u64>(NEXT).await?.unwrap_or(0);
        let count = batch.records.len() as u64;
        admit(split, end.saturating_sub(next), count, limits.bound)
            .map_err(|full| TerminalError::new_with_code(429, full.to_string()))?;
        let answer = Appended {
            split,
            first: end,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            again: false,
        };
        self.append_at(&ctx, end, batch.records);
        ctx.set(&key, Json(answer));
        let tail = ctx.get::<u64>(EXPIRY_TAIL).await?.unwrap_or(0);
        ctx.set(&expiry_entry(tail), Json((batch.key, now)));
        ctx.set(EXPIRY_TAIL, tail + 1);
        Ok(answer)
    }
}

impl<D: Dataflow> PipelineService<LogService, D> {
    /// Asks the source what is new after the log's mark (a journaled step,
    /// so a retry appends the same records), and appends it at `end` with
    /// the new mark, in one state change: the mark a pull confirms to the
    /// source's system is always one whose records are durable here.
    /// Answers the new end.
    async fn pull(
        &self,
        ctx: &ObjectContext<'_>,
        split: u32,
        end: u64,
        take: LogTake,
    ) -> HandlerResult<u64> {
        let mark = ctx.get::<String>(MARK).await?;
        let source = self.flow.source();
        let (max, bytes) = (
            take.max as usize,
            usize::try_from(take.bytes).unwrap_or(usize::MAX),
        );
        let Json(pulled) = ctx
            .run(|| async move {
                match source.pull(split, mark, max, bytes).await {
                    Ok(pulled) => Ok(Json(pulled)),
                    Err(error) => Err(match EndsBefore::find(&error) {
                        Some(ends) => TerminalError::new_with_code(409, ends.reason.clone()).into(),
                        None => HandlerError::from(error),
                    }),
                }
            })
            .name("pull")
            .await?;
        let new_end = self.append_at(ctx, end, pulled.records);
        ctx.set(MARK, pulled.mark);
        Ok(new_end)
    }

    /// Appends `records` at `end`, in entries of at most a round's batch
    /// (so that a take that stops inside one reads no more than that
    /// again); answers the new end.
    fn append_at(&self, ctx: &ObjectContext<'_>, end: u64, mut records: Vec<Value>) -> u64 {
        let most = self.flow.config().batch_size.max(1) as usize;
        let mut first = end;
        while !records.is_empty() {
            let rest = records.split_off(most.min(records.len()));
            let len = records.len() as u64;
            ctx.set(&batch_entry(first), Json(records));
            first += len;
            records = rest;
        }
        if first > end {
            ctx.set(END, first);
        }
        first
    }
}

/// Forgets up to [`FORGET_PER_APPEND`] of the oldest keys whose retention
/// has passed.
async fn forget_old_keys(
    ctx: &ObjectContext<'_>,
    now: Millis,
    limits: PushLimits,
) -> HandlerResult<()> {
    let retention = Millis::try_from(limits.key_retention.as_millis()).unwrap_or(Millis::MAX);
    let start = ctx.get::<u64>(EXPIRY_HEAD).await?.unwrap_or(0);
    let mut head = start;
    for _ in 0..FORGET_PER_APPEND {
        let entry = expiry_entry(head);
        let Some(Json((key, at))) = ctx.get::<Json<(String, Millis)>>(&entry).await? else {
            break;
        };
        if now.saturating_sub(at) < retention {
            break;
        }
        ctx.clear(&key_entry(&key));
        ctx.clear(&entry);
        head += 1;
    }
    if head != start {
        ctx.set(EXPIRY_HEAD, head);
    }
    Ok(())
}

/// Hands out the records from the split's position and drops them: the
/// split asks, in its journaled `next`, so the records are in that
/// journal (and in the lease, in the token's) from then on.
impl<'a, D: Dataflow> Serves<'a, log::Take> for PipelineService<LogService, D> {
    async fn serve(
        &'a self,
        ctx: ObjectContext<'a>,
        _calls: RestateCalls<'a>,
        take: LogTake,
    ) -> HandlerResult<LogTaken> {
        let (split, limits) = self.split(ctx.key())?;
        let next = ctx.get::<u64>(NEXT).await?.unwrap_or(0);
        if take.from != next {
            let why = format!(
                "split {split} of pipeline `{}` asks its log for position {}, but the log has \
                 handed out everything before {next}: the split's state and the log's do not \
                 match (was one of them cleared?)",
                self.flow.name(),
                take.from,
            );
            return Err(TerminalError::new_with_code(409, why).into());
        }
        let mut end = ctx.get::<u64>(END).await?.unwrap_or(0);
        if limits.pulled && next == end {
            end = self.pull(&ctx, split, end, take).await?;
        }
        let cursor = ctx.get::<u64>(CURSOR).await?.unwrap_or(0);
        let mut taking = Taking::new(take.from, cursor, take.max, take.bytes);
        while let Some(first) = taking.wants().filter(|first| *first < end) {
            let Some(Json(records)) = ctx.get::<Json<Vec<Value>>>(&batch_entry(first)).await?
            else {
                let why =
                    format!("split {split}'s log has no batch at {first}, below its end {end}");
                return Err(TerminalError::new(why).into());
            };
            taking.batch(first, records);
        }
        let taken = taking.finish();
        for first in &taken.dropped {
            ctx.clear(&batch_entry(*first));
        }
        if !taken.records.is_empty() {
            ctx.set(CURSOR, taken.cursor);
            ctx.set(NEXT, next + taken.records.len() as u64);
        }
        Ok(LogTaken {
            records: taken.records,
        })
    }
}
