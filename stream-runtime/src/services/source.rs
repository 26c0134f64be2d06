//! `{name}Source`: the token driver. Each token is one `ingest` invocation
//! that moves one batch through the whole pipeline (see [`crate::round`])
//! and then sends itself again, so no operator can lose or duplicate a token.

use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use super::calls::RestateCalls;
use super::serve::Serves;
use super::{PipelineService, ServiceHandlers};
use crate::protocol::handlers::{
    clock, control, keyed, sink, source, split, ControlKey, SourceService,
};
use crate::protocol::overview::{Overview, ReplayRequest, Replayed, SplitOverview};
use crate::protocol::{Calls, Entry, RawBody, Status, Take, Token, TokensAdded};
use crate::round;
use crate::source::Source;
use crate::stages::Dataflow;
use crate::time::watermark::own_watermark;

/// The most tokens one `addTokens` call may add.
pub const MAX_TOKENS_PER_CALL: u64 = 10_000;

/// The HTTP code of `addTokens` on a bounded pipeline that ran to its end.
const RAN_OUT: u16 = 409;

impl<D: Dataflow> ServiceHandlers<D> for SourceService {
    type Handlers = (
        source::AddTokens,
        source::GetStatus,
        source::Stop,
        source::Ingest,
        source::GetOverview,
        source::Replay,
    );
}

/// Parses the body of `addTokens`: a JSON number, whole, from 1 to
/// [`MAX_TOKENS_PER_CALL`]. Anything else is a terminal 400 with a message.
///
/// ```
/// use stream_runtime::parse_token_count;
/// assert_eq!(parse_token_count(b"10").unwrap(), 10);
/// assert_eq!(parse_token_count(b"-1").unwrap_err().code(), 400);
/// ```
pub fn parse_token_count(body: &[u8]) -> Result<u64, TerminalError> {
    let bad = |why: String| TerminalError::new_with_code(400, format!("addTokens: {why}"));
    let text = std::str::from_utf8(body)
        .map_err(|_| bad("the body is not UTF-8 text; send a number such as `10`".into()))?
        .trim();
    if text.is_empty() {
        return Err(bad(
            "the body is empty; send the number of tokens to add, such as `10`".into(),
        ));
    }
    let shown: String = text.chars().take(40).collect();
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        bad(format!(
            "`{shown}` is not a number; send the number of tokens to add, such as `10`"
        ))
    })?;
    let Some(number) = value.as_f64().filter(|_| value.is_number()) else {
        return Err(bad(format!("`{shown}` is not a whole number of tokens")));
    };
    if number.fract() != 0.0 {
        return Err(bad(format!("`{shown}` is not a whole number of tokens")));
    }
    if number < 1.0 {
        return Err(bad(format!(
            "`{shown}` tokens: the count must be at least 1"
        )));
    }
    if number > MAX_TOKENS_PER_CALL as f64 {
        return Err(bad(format!(
            "`{shown}` tokens is too many for one call; add at most {MAX_TOKENS_PER_CALL} at a time"
        )));
    }
    Ok(number as u64)
}

/// Adds tokens (see `{name}Control/add`). A bounded pipeline that ran to
/// its end answers 409: new tokens would only park.
impl<'a, D: Dataflow> Serves<'a, source::AddTokens> for PipelineService<SourceService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        body: RawBody,
    ) -> HandlerResult<TokensAdded> {
        let n = parse_token_count(&body.0)?;
        let status = self.status(&calls).await?;
        if status.ran_out() {
            let message = format!(
                "addTokens: pipeline `{}` is bounded and has processed all of its input \
                 ({} records); new tokens would stop at once. To run it again, run it \
                 under a new name or on a fresh server",
                self.names.pipeline, status.records_in
            );
            return Err(TerminalError::new_with_code(RAN_OUT, message).into());
        }
        let added = calls.call::<control::Add>(ControlKey, &n)?.await?;
        Ok(added)
    }
}

impl<'a, D: Dataflow> Serves<'a, source::GetStatus> for PipelineService<SourceService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<Status> {
        Ok(self.status(&calls).await?)
    }
}

/// Stops the pipeline (see `{name}Control/stop`) and answers its status;
/// `addTokens` resumes it.
impl<'a, D: Dataflow> Serves<'a, source::Stop> for PipelineService<SourceService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<Status> {
        calls.call::<control::Stop>(ControlKey, &())?.await?;
        Ok(self.status(&calls).await?)
    }
}

/// The status with each split's progress and the dead letters: one call
/// for the runner's page.
impl<'a, D: Dataflow> Serves<'a, source::GetOverview> for PipelineService<SourceService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        (): (),
    ) -> HandlerResult<Overview> {
        let status = self.status(&calls).await?;
        let encode = |e: crate::protocol::EncodeError| TerminalError::new(e.to_string());
        let control = calls
            .call::<control::Get>(ControlKey, &())
            .map_err(encode)?;
        let letters = (calls.call::<control::ListDeadLetters>(ControlKey, &())).map_err(encode)?;
        let watermarks = self.flow.config().watermarks;
        let clock = match watermarks {
            Some(_) => Some(calls.call::<clock::Get>(ControlKey, &()).map_err(encode)?),
            None => None,
        };
        let progress: Vec<_> = (0..self.flow.splits())
            .map(|split| calls.call::<split::Progress>(split, &()))
            .collect::<Result<_, _>>()
            .map_err(encode)?;
        let control = control.await?;
        let dead_letters = letters.await?;
        let marks = match clock {
            Some(clock) => clock.await?.splits,
            None => Default::default(),
        };
        let delay = watermarks.map_or(0, |w| w.delay_millis());
        let mut splits = Vec::with_capacity(progress.len());
        for (split, progress) in (0..).zip(progress) {
            let progress = progress.await?;
            let mark = marks.get(&split);
            let end = match mark.and_then(|m| m.end) {
                Some(end) => Some(end),
                None => self.end_of(split, progress.position).await,
            };
            splits.push(SplitOverview {
                split,
                position: progress.position,
                end,
                exhausted: progress.exhausted,
                watermark: (mark.and_then(|m| m.max)).map(|max| own_watermark(Some(max), delay)),
                idle: mark.is_some_and(|m| m.idle),
            });
        }
        Ok(Overview {
            status,
            tokens_parked: control.parked,
            splits,
            dead_letters,
            replayed: control.replayed,
        })
    }
}

impl<D: Dataflow> PipelineService<SourceService, D> {
    /// Where `split` ends now, as its source answers from `position`: a
    /// Kafka partition's end offset, a bounded split's last position; none
    /// for a split that computes its records without end, or when the
    /// source does not answer. Shown, not journaled: it only tells lag.
    async fn end_of(&self, split: u32, position: u64) -> Option<u64> {
        let source = self.flow.source();
        if !source.is_remote() && !source.split_is_bounded(split) {
            return None;
        }
        let ahead = source
            .available(split, position, u32::MAX as usize)
            .await
            .ok()?;
        Some(position.saturating_add(ahead as u64))
    }
}

/// Sends dead letters in again (see [`round::replay`]): takes them out of
/// the list, then replays each, in the order they came.
impl<'a, D: Dataflow> Serves<'a, source::Replay> for PipelineService<SourceService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        request: ReplayRequest,
    ) -> HandlerResult<Replayed> {
        let encode = |e: crate::protocol::EncodeError| TerminalError::new(e.to_string());
        let mut replayed = Replayed::default();
        let mut take = Take {
            id: request.id,
            from: 0,
            until: None,
        };
        // A page at a time: a replay of many letters holds the control
        // object only while it takes each page.
        loop {
            let taken = calls.call::<control::TakeDeadLetters>(ControlKey, &take);
            let taken = taken.map_err(encode)?.await?;
            for (id, letter) in taken.letters {
                let level = match letter.entry() {
                    Some(Entry::Keyed(level)) => level,
                    _ => 0,
                };
                let names = self.names.at_level(level);
                let stage_calls = calls.with_names(&names);
                // A source that cannot be read fails the replay, which
                // Restate retries, as it does a token's round.
                match round::replay(&*self.flow, &calls, &stage_calls, letter).await? {
                    true => replayed.replayed.push(id),
                    false => replayed.failed_again.push(id),
                }
            }
            match taken.next {
                Some(next) if request.id.is_none() => {
                    take.from = next;
                    take.until = Some(taken.until);
                }
                _ => break,
            }
        }
        Ok(replayed)
    }
}

/// One round of a token (see [`round::run`]).
impl<'a, D: Dataflow> Serves<'a, source::Ingest> for PipelineService<SourceService, D> {
    async fn serve(
        &'a self,
        _ctx: Context<'a>,
        calls: RestateCalls<'a>,
        token: Token,
    ) -> HandlerResult<()> {
        let started = std::time::Instant::now();
        match round::run(&*self.flow, &calls, token).await {
            round::Outcome::Retry(reason) => Err(std::io::Error::other(reason).into()),
            round::Outcome::Continued => {
                let seconds = started.elapsed().as_secs_f64();
                crate::metrics::round(self.flow.name(), seconds);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl<D: Dataflow> PipelineService<SourceService, D> {
    /// Gathers the counters of the control object and every split (all
    /// issued before any is awaited), then the keyed stages' pending
    /// timers, then every sink partition's.
    async fn status(&self, calls: &RestateCalls<'_>) -> Result<Status, TerminalError> {
        let encode = |e: crate::protocol::EncodeError| TerminalError::new(e.to_string());
        let control = calls
            .call::<control::Get>(ControlKey, &())
            .map_err(encode)?;
        let splits: Vec<_> = (0..self.flow.splits())
            .map(|split| calls.call::<split::Progress>(split, &()))
            .collect::<Result<_, _>>()
            .map_err(encode)?;
        let timed = self.flow.config().watermarks.is_some();
        let clock = match timed {
            true => Some(calls.call::<clock::Get>(ControlKey, &()).map_err(encode)?),
            false => None,
        };
        let control = control.await?;
        let watermark = match clock {
            Some(clock) => clock.await?.watermark,
            None => None,
        };
        let mut split_progress = Vec::with_capacity(splits.len());
        for split in splits {
            split_progress.push(split.await?);
        }
        // Every keyed stage's groups, when the pipeline runs on event time,
        // a stage only once the one before it has answered: a group's
        // firing passes its output on before its timers leave its state, so
        // a stage read after the one before it had none left sees all it
        // was given, and `finished` cannot come before the last stage's
        // windows are written. (What the clock carries between stages is
        // in no group's timers until its wake-up is over: the clock,
        // read first, must have stored the end of time, see
        // `Status::gather`.)
        let groups = self.flow.config().key_groups.count();
        let levels = if timed { self.flow.levels() } else { 0 };
        let mut pending_timers = 0;
        for level in 0..levels {
            let names = self.names.at_level(level);
            let stage = calls.with_names(&names);
            let pending: Vec<_> = (0..groups)
                .map(|group| stage.call::<keyed::Pending>(group, &()))
                .collect::<Result<_, _>>()
                .map_err(encode)?;
            for group in pending {
                pending_timers += group.await?;
            }
        }
        // The sinks last: a group writes what its timers fired before it
        // stores the timers that are left, so sinks read after the groups
        // had none left count every result (read before, the last
        // windows' writes could be missing from `records_out` while
        // `finished` is already true).
        let all = self.flow.sink_partitions() + self.flow.side_partitions();
        let sinks: Vec<_> = (0..all)
            .map(|partition| calls.call::<sink::Progress>(partition, &()))
            .collect::<Result<_, _>>()
            .map_err(encode)?;
        let mut sink_progress = Vec::with_capacity(sinks.len());
        for sink in sinks {
            sink_progress.push(sink.await?);
        }
        Ok(Status::gather(
            control,
            &split_progress,
            &sink_progress,
            self.flow.source().is_bounded(),
            watermark,
            pending_timers,
            self.flow.clock_carries(),
        ))
    }
}
